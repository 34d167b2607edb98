"""The check areas: one module per public id area (`ssh.*` in `ssh` and `ssh_server`, `tunnel.*` in
`tunnel`, ...). A module holds only `@check` functions and the fix builders they use; facts come
from `checks.probes`."""
