# bench/: sources added by the bench layer
