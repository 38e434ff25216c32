# cpu/: sources added by the cpu layer
