"""Build hook: put the Snakemake workflow into the wheel, under ``pipeline/workflow/``.

Everything else about the package is in pyproject.toml. The workflow's files live at the
repository root (Snakefile, environment.yml, configs/, profiles/) and beside the code
(pipeline/rules, pipeline/scripts, pipeline/report/captions); their relative paths matter
(``include:``, ``script:``, ``conda:``), so the wheel gets a copy of that layout in
``pipeline/workflow/`` and an installed ``shuibao`` runs it from there
(``pipeline.packaged.workflow_root``). An editable install runs the repository itself.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

#: Workflow files copied into the wheel (globs relative to the repository root).
WORKFLOW_FILES = (
    "Snakefile",
    "environment.yml",
    "configs/*.yaml",
    "profiles/*/config.yaml",
    "pipeline/rules/*.smk",
    "pipeline/scripts/*.py",
    "pipeline/report/captions/*.rst",
)


class BuildPyWithWorkflow(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the repository itself is the workflow
        root = Path(__file__).resolve().parent
        dest = Path(self.build_lib) / "pipeline" / "workflow"
        for pattern in WORKFLOW_FILES:
            for src in sorted(root.glob(pattern)):
                target = dest / src.relative_to(root)
                self.mkpath(str(target.parent))
                self.copy_file(str(src), str(target))


setup(cmdclass={"build_py": BuildPyWithWorkflow})
