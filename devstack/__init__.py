"""Local stack (sandbox, embedded AWS, SQS poller, demo); not imported by the Lambda handler."""
