"""Helpers shared by the functional and end-to-end tests (not a test module).

- :mod:`support.server`: run a real ``cargohold serve`` process and the CLI.
- :mod:`support.containers`: private configuration for skopeo, podman and buildah.
- :mod:`support.oci_layout`: build small OCI image layouts on disk.
"""
