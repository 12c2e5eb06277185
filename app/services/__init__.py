"""Use cases shared by the GUI and the headless CLI. Async, and never imports Qt."""
