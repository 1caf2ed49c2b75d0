"""What the tests share besides fixtures (those live in ``tests/conftest.py``): generated
datasets (:mod:`.fakedata`), where the real ones are (:mod:`.realdata`), the command lines the
tests run (:mod:`.commands`), tiny trained checkpoints (:mod:`.tiny_models`) and a driver that
runs many command lines in one interpreter (``cli_driver.py``, a script)."""
