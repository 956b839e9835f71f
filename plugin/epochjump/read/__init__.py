"""Reading: event data -> `RunData`, through TensorBoard's data provider."""
