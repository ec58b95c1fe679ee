"""Helpers shared by the functional and end-to-end tests (not a test module).

- :mod:`support.server`: run a real ``cargohold serve`` process and the CLI.
- :mod:`support.containers`: private configuration for skopeo, podman and buildah.
- :mod:`support.oci_layout`: build small OCI image layouts (single image or multi-arch index).
- :mod:`support.e2e`: run the clients and the CLI, HTTP requests, waits (end-to-end tests).
"""
