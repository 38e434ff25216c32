# devices/: sources added by the devices layer
