"""The template: where it comes from and which versions it has, the questions and the rules of their answers,
organisation presets, the render of a new repository, and the Backstage template written from copier.yml. The
only package that imports Copier; it imports runtime, tools and project."""
