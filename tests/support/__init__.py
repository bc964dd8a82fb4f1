"""Test doubles shared by test folders (a local Slack Web API, ...)."""
