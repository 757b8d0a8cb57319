"""Events coming in: request bodies parsed into canonical events, accepted into the buffer."""
