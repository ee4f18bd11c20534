"""The reference portal over HTTP: one Starlette app, two faces (JSON API and bilingual pages) on one core."""
