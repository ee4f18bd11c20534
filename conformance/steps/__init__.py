"""The step definitions of the features in ``features/en`` and ``features/ja``, written once.

Every step function has one decorator holding its English and its Japanese wording
(:func:`conformance.steps.wording.bilingual`), so both languages run the same code and check the
same things. Steps talk only to the fixtures ``driver``, ``operator``, ``mailbox``,
``portal_clock`` and ``profile`` (plus the scenario's own memory, ``world``); never to
``reference``. That is why the same features check the embedded
reference and a deployed portal alike.

Load this package as a pytest plugin (``-p conformance.steps`` or
``config.pluginmanager.import_plugin("conformance.steps")``): it brings in the step modules
below and registers the feature tags as markers.
"""

STEP_MODULES = (
    "conformance.steps.common",
    "conformance.steps.accounts",
    "conformance.steps.login",
    "conformance.steps.mail",
    "conformance.steps.settings",
    "conformance.steps.reset",
)

pytest_plugins = ["conformance.steps.markers", *STEP_MODULES]
