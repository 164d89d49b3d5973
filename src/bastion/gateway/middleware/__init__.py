"""Pure ASGI middleware, one module per step of the request path (outermost first):
audit → transport limits → authentication → rate limits → authorization → dispatch."""
