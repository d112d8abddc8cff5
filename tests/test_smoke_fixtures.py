from mailbeacon.runtime import Runtime


def test_runtime_on_both_databases(any_runtime: Runtime) -> None:
    ws = any_runtime.store.create_workspace("acme", ["acme.test"], any_runtime.clock())
    assert any_runtime.store.workspace("acme").id == ws.id
    assert any_runtime.keyring.key_ids == (1,)
