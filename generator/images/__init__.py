"""Container images: the engine (docker), stand-ins of base images for machines no registry answers, and a
repository's image built and run as a pod runs it. It imports runtime, tools and project."""
