# shadowmmu/: sources added by the shadowmmu layer
