"""Forward conversions from SQS to the Rokt Event API (mParticle S2S API v2)."""

# The one source of the version. `make version VERSION=x.y.z` writes it here and its copies (the
# template's SemanticVersion and layer description, pyproject.toml, a CHANGELOG.md section); the
# "invocation done" log line and every metrics line carry it, so a log says which release ran.
__version__ = "0.1.0"
