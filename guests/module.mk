# guests/: sources added by the guests layer
