"""The gateway's own routes: one table that drives dispatch, authorization and OpenAPI."""
