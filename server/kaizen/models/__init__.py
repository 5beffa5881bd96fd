"""Every call to a model goes through here: the gateway (litellm), the router, local models."""
