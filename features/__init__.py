"""The manuals as Gherkin features (features/en, features/ja), shipped as package data."""
