"""The Ninsho specification as package data: protocol, registry, profiles and vectors."""
