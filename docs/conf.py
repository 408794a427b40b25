"""Sphinx configuration of the pets documentation (built in CI with warnings as errors).

Pages are Markdown (MyST); the API reference is generated from the Python package's
docstrings (Google style, read by napoleon). Build:
``.venv/bin/sphinx-build -W --keep-going -b html docs target/docs-html``.
"""

project = "pets"
author = "the pets developers"
copyright = "2026, the pets developers"  # noqa: A001 (Sphinx's name)

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# The native module's classes are documented through the Python wrappers.
autodoc_mock_imports: list[str] = []
nitpicky = False

html_theme = "alabaster"
html_title = "pets: privacy-enhancing technologies for health data"
