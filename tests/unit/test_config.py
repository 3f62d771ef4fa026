"""Settings.from_env: every variable's default, accepted forms, and a ConfigError naming a bad one."""

import pytest

from rokt_forwarder.config import DEFAULT_REQUEST_TIMEOUT_SECONDS, ProducerSettings, Settings
from rokt_forwarder.errors import ConfigError

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rokt-AbCdEf"


def settings(**env: str) -> Settings:
    return Settings.from_env({"ROKT_SECRET_ID": SECRET, **env})


def test_defaults_with_only_the_secret_id() -> None:
    assert settings() == Settings(
        secret_id=SECRET,
        api_url="https://s2s.us1.mparticle.com/v2",
        environment="development",
        dlq_url=None,
        hash_pii=False,
        request_timeout=DEFAULT_REQUEST_TIMEOUT_SECONDS,
    )
    assert DEFAULT_REQUEST_TIMEOUT_SECONDS == 10.0


# --- ROKT_SECRET_ID ---------------------------------------------------------------------------------


@pytest.mark.parametrize("env", [{}, {"ROKT_SECRET_ID": ""}, {"ROKT_SECRET_ID": "   "}])
def test_secret_id_is_required(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="ROKT_SECRET_ID"):
        Settings.from_env(env)


def test_secret_id_is_trimmed() -> None:
    assert Settings.from_env({"ROKT_SECRET_ID": "  rokt/key  "}).secret_id == "rokt/key"


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


# --- ROKT_POD ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pod", "url"),
    [
        ("us1", "https://s2s.us1.mparticle.com/v2"),
        ("us2", "https://s2s.us2.mparticle.com/v2"),
        ("eu1", "https://s2s.eu1.mparticle.com/v2"),
        ("au1", "https://s2s.au1.mparticle.com/v2"),
        ("EU1", "https://s2s.eu1.mparticle.com/v2"),
        ("Au1", "https://s2s.au1.mparticle.com/v2"),
        (" us2 ", "https://s2s.us2.mparticle.com/v2"),
        ("", "https://s2s.us1.mparticle.com/v2"),
        ("  ", "https://s2s.us1.mparticle.com/v2"),
    ],
)
def test_pod_maps_to_its_url_case_insensitively(pod: str, url: str) -> None:
    assert settings(ROKT_POD=pod).api_url == url


@pytest.mark.parametrize("pod", ["us3", "eu", "ap1", "us-1", "s2s.us1.mparticle.com"])
def test_unknown_pod_is_refused_naming_the_variable(pod: str) -> None:
    with pytest.raises(ConfigError, match="ROKT_POD"):
        settings(ROKT_POD=pod)


# --- ROKT_API_URL -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost:4010/v2", "http://localhost:4010/v2"),
        ("https://proxy.example.com/rokt/v2", "https://proxy.example.com/rokt/v2"),
        ("https://s2s.mparticle.com/v2/", "https://s2s.mparticle.com/v2"),
        ("  https://s2s.mparticle.com/v2  ", "https://s2s.mparticle.com/v2"),
    ],
)
def test_api_url_overrides_the_pod(url: str, expected: str) -> None:
    assert settings(ROKT_API_URL=url, ROKT_POD="eu1").api_url == expected


def test_empty_api_url_counts_as_unset() -> None:
    assert settings(ROKT_API_URL="", ROKT_POD="au1").api_url == "https://s2s.au1.mparticle.com/v2"
    assert settings(ROKT_API_URL="   ").api_url == "https://s2s.us1.mparticle.com/v2"


def test_api_url_override_skips_pod_validation() -> None:
    # The pod is not used when the URL is given, so a stale pod value must not block start-up.
    assert settings(ROKT_API_URL="https://x.example/v2", ROKT_POD="nowhere").api_url == "https://x.example/v2"


@pytest.mark.parametrize(
    "url",
    [
        "https://s2s.us1.mparticle.com",
        "https://s2s.us1.mparticle.com/v2/events",
        "https://s2s.us1.mparticle.com/v1",
        "ftp://s2s.us1.mparticle.com/v2",
        "s2s.us1.mparticle.com/v2",
        "https:///v2",
        "/v2",
    ],
)
def test_bad_api_url_is_refused_naming_the_variable(url: str) -> None:
    with pytest.raises(ConfigError, match="ROKT_API_URL"):
        settings(ROKT_API_URL=url)


# --- ROKT_ENVIRONMENT -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "development"),
        ("development", "development"),
        ("production", "production"),
        ("PRODUCTION", "production"),
        (" Production ", "production"),
    ],
)
def test_environment(value: str, expected: str) -> None:
    assert settings(ROKT_ENVIRONMENT=value).environment == expected


@pytest.mark.parametrize("value", ["prod", "staging", "dev", "test"])
def test_bad_environment_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="ROKT_ENVIRONMENT"):
        settings(ROKT_ENVIRONMENT=value)


# --- DLQ_URL ----------------------------------------------------------------------------------------


def test_dlq_url_is_optional_and_empty_means_unset() -> None:
    assert settings().dlq_url is None
    assert settings(DLQ_URL="").dlq_url is None
    assert settings(DLQ_URL="   ").dlq_url is None


def test_dlq_url_is_kept_trimmed() -> None:
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/rokt-dlq"
    assert settings(DLQ_URL=f" {url} ").dlq_url == url


# --- HASH_PII ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", False),
        ("false", False),
        ("FALSE", False),
        ("0", False),
        ("no", False),
        ("true", True),
        ("True", True),
        (" TRUE ", True),
        ("1", True),
        ("yes", True),
    ],
)
def test_hash_pii_flag(value: str, expected: bool) -> None:
    assert settings(HASH_PII=value).hash_pii is expected


@pytest.mark.parametrize("value", ["maybe", "on", "2", "truee"])
def test_bad_hash_pii_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="HASH_PII"):
        settings(HASH_PII=value)


# --- ROKT_REQUEST_TIMEOUT ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"), [("", 10.0), ("  ", 10.0), ("5", 5.0), ("2.5", 2.5), (" 30 ", 30.0)]
)
def test_request_timeout(value: str, expected: float) -> None:
    assert settings(ROKT_REQUEST_TIMEOUT=value).request_timeout == expected


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "10s", "-0.5"])
def test_bad_request_timeout_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="ROKT_REQUEST_TIMEOUT"):
        settings(ROKT_REQUEST_TIMEOUT=value)


def test_all_variables_together() -> None:
    assert settings(
        ROKT_POD="us2",
        ROKT_ENVIRONMENT="production",
        DLQ_URL="https://sqs/dlq",
        HASH_PII="true",
        ROKT_REQUEST_TIMEOUT="3",
    ) == Settings(
        secret_id=SECRET,
        api_url="https://s2s.us2.mparticle.com/v2",
        environment="production",
        dlq_url="https://sqs/dlq",
        hash_pii=True,
        request_timeout=3.0,
    )


# --- hardening: where the key/secret may go, what an error may echo -------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8765/v2", "http://127.9.9.9/v2", "http://[::1]:8765/v2", "http://localhost/v2"],
)
def test_plain_http_is_accepted_to_loopback(url: str) -> None:
    assert settings(ROKT_API_URL=url).api_url == url


@pytest.mark.parametrize(
    "url", ["http://s2s.us1.mparticle.com/v2", "http://10.0.0.5/v2", "http://host.docker.internal:8765/v2"]
)
def test_plain_http_to_another_host_needs_the_opt_in(url: str) -> None:
    with pytest.raises(ConfigError, match="ROKT_ALLOW_HTTP"):
        settings(ROKT_API_URL=url)
    assert settings(ROKT_API_URL=url, ROKT_ALLOW_HTTP="true").api_url == url


def test_credentials_in_the_url_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError, match="ROKT_API_URL") as error:
        settings(ROKT_API_URL="https://rokt-key:hunter2@proxy.example.com/v2")
    assert "hunter2" not in str(error.value) and "rokt-key" not in str(error.value)


@pytest.mark.parametrize(
    "url", ["https://x.example/v2?x=1#/v2", "https://x.example/v2?token=s3cret", "https://x.example/v2#frag"]
)
def test_query_or_fragment_is_refused_without_echoing_it(url: str) -> None:
    with pytest.raises(ConfigError, match="ROKT_API_URL") as error:
        settings(ROKT_API_URL=url)
    assert "s3cret" not in str(error.value) and "x=1" not in str(error.value)


@pytest.mark.parametrize("value", ["0.4", "0.1", "inf"])
def test_request_timeout_below_what_a_request_needs_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="ROKT_REQUEST_TIMEOUT"):
        settings(ROKT_REQUEST_TIMEOUT=value)
    assert settings(ROKT_REQUEST_TIMEOUT="0.5").request_timeout == 0.5


# --- pacing -----------------------------------------------------------------------------------------


def test_pacing_defaults_to_the_api_limit_shared_by_the_default_concurrency() -> None:
    assert (settings().rate_limit, settings().concurrency) == (270, 5)


def test_pacing_settings() -> None:
    paced = settings(ROKT_MAX_BATCHES_PER_SECOND="135.5", ROKT_CONCURRENCY="50")
    assert (paced.rate_limit, paced.concurrency) == (135.5, 50)
    assert settings(ROKT_MAX_BATCHES_PER_SECOND="0").rate_limit == 0, "0 turns pacing off"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ROKT_MAX_BATCHES_PER_SECOND", "-1"),
        ("ROKT_MAX_BATCHES_PER_SECOND", "fast"),
        ("ROKT_MAX_BATCHES_PER_SECOND", "inf"),
        ("ROKT_CONCURRENCY", "0"),
        ("ROKT_CONCURRENCY", "2.5"),
        ("ROKT_CONCURRENCY", "many"),
        ("ROKT_MAX_RECEIVE_COUNT", "0"),
        ("ROKT_MAX_RECEIVE_COUNT", "5.5"),
    ],
)
def test_bad_pacing_settings_are_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        settings(**{variable: value})


def test_the_queue_s_receive_count_is_known_only_when_set() -> None:
    assert settings().max_receive_count is None
    assert settings(ROKT_MAX_RECEIVE_COUNT="200").max_receive_count == 200


# --- producers' mappings and the data plan (ProducerSettings) ---------------------------------------


def test_no_mapping_and_no_data_plan_by_default() -> None:
    assert settings().producers == ProducerSettings()
    assert settings().data_plan is None


def test_a_mapping_from_a_file_or_a_parameter_but_not_both() -> None:
    assert settings(ROKT_MAPPING_FILE=" mapping.json ").producers.mapping_file == "mapping.json"
    assert settings(ROKT_MAPPING_PARAMETER="/rokt/mapping").producers.mapping_parameter == "/rokt/mapping"
    with pytest.raises(ConfigError, match="set ROKT_MAPPING_FILE or ROKT_MAPPING_PARAMETER, not both"):
        settings(ROKT_MAPPING_FILE="mapping.json", ROKT_MAPPING_PARAMETER="/rokt/mapping")


def test_the_data_plan_with_and_without_a_version() -> None:
    assert settings(ROKT_DATA_PLAN_ID="rokt_conversions").data_plan == {"plan_id": "rokt_conversions"}
    both = settings(ROKT_DATA_PLAN_ID="rokt_conversions", ROKT_DATA_PLAN_VERSION="3")
    assert both.data_plan == {"plan_id": "rokt_conversions", "plan_version": 3}


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"ROKT_DATA_PLAN_ID": "my plan"}, "ROKT_DATA_PLAN_ID='my plan' must be the plan's id"),
        ({"ROKT_DATA_PLAN_VERSION": "2"}, "ROKT_DATA_PLAN_VERSION needs ROKT_DATA_PLAN_ID"),
        (
            {"ROKT_DATA_PLAN_ID": "p", "ROKT_DATA_PLAN_VERSION": "0"},
            "ROKT_DATA_PLAN_VERSION='0' must be a whole",
        ),
        (
            {"ROKT_DATA_PLAN_ID": "p", "ROKT_DATA_PLAN_VERSION": "1.5"},
            "ROKT_DATA_PLAN_VERSION='1.5' must be a",
        ),
    ],
)
def test_a_bad_data_plan_names_the_variable(env: dict[str, str], error: str) -> None:
    with pytest.raises(ConfigError) as refused:
        settings(**env)
    assert str(refused.value).startswith(error)


@pytest.mark.parametrize("rate", ["5e-324", "0.5"])
def test_a_rate_limit_too_small_to_share_fails_the_cold_start(rate: str) -> None:
    """Issue 15, item 10: 5e-324 passed the cold start, then every share rounded to nothing."""
    with pytest.raises(ConfigError, match=r"ROKT_MAX_BATCHES_PER_SECOND=.* must be 0 .* or at least 1"):
        settings(ROKT_MAX_BATCHES_PER_SECOND=rate)


@pytest.mark.parametrize("url", ["https://127.0.0.1:99999/v2", "https://api.example:0/v2", "https://h:x/v2"])
def test_an_api_url_with_an_impossible_port_fails_the_cold_start(url: str) -> None:
    """Issue 15, item 10: the port passed the cold start, then every POST failed to parse it."""
    with pytest.raises(ConfigError, match="must have a port from 1 to 65535"):
        settings(ROKT_API_URL=url)


@pytest.mark.parametrize("url", ["https://[::1]/v2", "https://[::1]:8443/v2", "https://h:443/v2"])
def test_an_api_url_with_a_good_port_or_none_is_taken(url: str) -> None:
    assert settings(ROKT_API_URL=url).api_url == url
