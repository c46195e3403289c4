"""Domain services. They import neither boto3 nor stripe: they work through `incytes_billing.ports`."""
