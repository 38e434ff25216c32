# decoder/: sources added by the decoder layer
