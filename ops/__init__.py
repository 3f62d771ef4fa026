"""The operator tools: what the people who run the forwarder use on their AWS account (make deploy,
logs, check-credentials, send-test, dlq, validate). The local emulation is devstack/."""
