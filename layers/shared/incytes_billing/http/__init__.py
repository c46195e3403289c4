"""HTTP plumbing shared by the API handlers: the resolver and the contract's error shape."""
