"""A generated repository as data: its answers file, the YAML files it holds, the ports its service listens
on, and its manifests as kustomize and helm render them. What the checks and the updates read of a repository;
it imports runtime and tools, never Copier."""
