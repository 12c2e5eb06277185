"""wallet layer."""
