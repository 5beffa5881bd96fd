"""What may leave the machine: secret redaction and the files never sent to a model."""
