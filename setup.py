"""Only the compiled part of the build; everything else is in pyproject.toml.

- The monitoring engine's JSON pre-filter (`_scan`) is a Cython module of its own.
- The report exchange's hot path (parse -> normalise -> route -> rows) is plain Python,
  compiled as it is by Cython: the same source runs about a third faster without the
  interpreter's bytecode loop, and there is no second copy of it to keep in step
  (docs/architecture.md). Type annotations are not enforced (`annotation_typing`), so
  compiled and interpreted code behave alike.

Every extension is optional: when it cannot be compiled, Python imports the source
(slower, same results), so an install never fails for want of a compiler.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

# Modules of src/ compiled from their Python source (exchange/tests/test_compiled.py reads
# this list and checks each is compiled and newer than its source: `make install`).
COMPILED_SOURCES = [
    "bulwark.exchange.engine.event",
    "bulwark.exchange.engine.router",
    "bulwark.exchange.engine.pipeline",
    "bulwark.exchange.engine.rows",
    "bulwark.exchange.engine.fields",
    "bulwark.exchange.engine.formats.base",
    "bulwark.exchange.engine.formats.shadowserver",
]

setup(
    ext_modules=cythonize(
        [
            Extension(
                "bulwark.monitoring.engine._scan",
                ["src/bulwark/monitoring/engine/_scan.pyx"],
                extra_compile_args=["-O3"],
                optional=True,
            )
        ]
        + [
            Extension(
                name,
                ["src/" + name.replace(".", "/") + ".py"],
                extra_compile_args=["-O2"],
                optional=True,
            )
            for name in COMPILED_SOURCES
        ],
        compiler_directives={"language_level": "3", "annotation_typing": False},
        quiet=True,
    )
)
