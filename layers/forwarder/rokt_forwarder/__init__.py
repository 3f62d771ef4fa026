"""Forward conversions from SQS to the Rokt Event API (mParticle S2S API v2)."""
