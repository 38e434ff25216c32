# bt/: sources added by the bt layer
