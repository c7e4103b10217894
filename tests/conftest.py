"""Suite-wide fixtures: the SDK's own simulator plugin, dogfooded by every end-to-end test."""

pytest_plugins = ["activecalls_async.testing.pytest_plugin"]
