"""Only the compiled part of the build; everything else is in pyproject.toml.

The monitoring engine's JSON pre-filter (`_scan`) is Cython. The extension is optional:
when it cannot be compiled the engine falls back to its pure-Python path (slower, same
results), so an install never fails for want of a compiler.
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

setup(
    ext_modules=cythonize(
        [
            Extension(
                "bulwark.monitoring.engine._scan",
                ["src/bulwark/monitoring/engine/_scan.pyx"],
                extra_compile_args=["-O3"],
                optional=True,
            )
        ],
        compiler_directives={"language_level": "3"},
        quiet=True,
    )
)
