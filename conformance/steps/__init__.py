"""The step definitions of the features in ``features/en`` and ``features/ja``, written once.

Every step function has one decorator holding its English and its Japanese wording
(:func:`ninsho.conformance.steps.wording.bilingual`), so both languages run the same code and check the
same things. Steps talk only to the fixtures ``driver``, ``operator``, ``mailbox``,
``portal_clock`` and ``profile`` (plus the scenario's own memory, ``world``); never to
``reference``. That is why the same features check the embedded
reference and a deployed portal alike.

Load this package as a pytest plugin (``-p conformance.steps`` or
``config.pluginmanager.import_plugin("ninsho.conformance.steps")``): it brings in the step modules
below and registers the feature tags as markers.
"""

STEP_MODULES = (
    "ninsho.conformance.steps.common",
    "ninsho.conformance.steps.accounts",
    "ninsho.conformance.steps.login",
    "ninsho.conformance.steps.mail",
    "ninsho.conformance.steps.settings",
    "ninsho.conformance.steps.reset",
    "ninsho.conformance.steps.reset_link",
)

pytest_plugins = ["ninsho.conformance.markers", *STEP_MODULES]
