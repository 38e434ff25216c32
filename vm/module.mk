# vm/: sources added by the vm layer
