"""PE601 swallowed exceptions, PE602 raise without from."""

from __future__ import annotations

from pathlib import Path

from tests.engine.rules.rule_harness import check, dedent, fixed_text


def test_except_exception_pass_suggests_what_the_try_body_raises(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE601",
        """
        import json
        import logging

        log = logging.getLogger(__name__)


        def parse(raw: str) -> int:
            try:
                value = json.loads(raw)
                return int(value["n"])
            except BaseException:
                pass
            return 0
        """,
    )
    assert len(findings) == 1
    finding = findings[0]
    assert finding.data["likely"] == ["json.JSONDecodeError", "ValueError"]
    assert "log.exception" in finding.detail
    catch, log_it = finding.fixes
    assert not catch.safe and not log_it.safe
    assert "    except (json.JSONDecodeError, ValueError):\n        pass\n" in fixed_text(finding, catch)
    assert '        log.exception("Ignored error in parse")\n' in fixed_text(finding, log_it)


def test_bare_except(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE601",
        """
        def read(path: str) -> str:
            try:
                with open(path) as handle:
                    return handle.read()
            except:
                return ""
        """,
    )
    assert len(findings) == 1
    assert "KeyboardInterrupt" in findings[0].detail
    assert "    except OSError:\n" in fixed_text(findings[0])


def test_handled_or_reraised_or_specific_exceptions_are_fine(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE601",
        """
        import logging

        log = logging.getLogger(__name__)


        def a() -> None:
            try:
                work()
            except Exception:
                log.exception("work failed")


        def b() -> None:
            try:
                work()
            except:
                cleanup()
                raise


        def c() -> None:
            try:
                work()
            except KeyError:
                pass


        class Handle:
            def __del__(self) -> None:
                try:
                    self.close()
                except Exception:
                    pass
        """,
    )
    assert findings == []


def test_raise_without_from_is_chained_by_the_fix(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE602",
        """
        def price(table: dict[str, float], key: str) -> float:
            try:
                return table[key]
            except KeyError:
                raise LookupError(f"no price for {key}")
        """,
    )
    assert len(findings) == 1
    chain, hide = findings[0].fixes
    assert fixed_text(findings[0], chain) == dedent(
        """
        def price(table: dict[str, float], key: str) -> float:
            try:
                return table[key]
            except KeyError as exc:
                raise LookupError(f"no price for {key}") from exc
        """
    )
    assert 'raise LookupError(f"no price for {key}") from None' in fixed_text(findings[0], hide)


def test_reraise_chained_or_nested_function_raises_are_fine(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE602",
        """
        def f() -> None:
            try:
                work()
            except ValueError as error:
                raise
            except KeyError as error:
                raise error
            except OSError as error:
                raise RuntimeError("io") from error
            except TypeError:
                def later() -> None:
                    raise RuntimeError("later")
                schedule(later)
        """,
    )
    assert findings == []


def test_existing_name_is_reused(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE602",
        """
        try:
            work()
        except (KeyError, IndexError) as missing:
            raise ValueError("missing")
        """,
    )
    assert "from missing" in fixed_text(findings[0])


def test_fallbacks_that_say_why_in_a_comment_are_intentional(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE601",
        """
        import os


        def warm(path: str) -> None:
            try:
                os.stat(path)
            except:  # best effort: the cache warms itself on first use anyway
                pass
            try:
                os.listdir(os.path.dirname(path))
            except:
                # Not empty or already gone: either way there is nothing to do.
                pass
            try:
                os.sync()
            except:
                pass  # ok
            try:
                os.sync()
            except:
                print("# not a comment")
        """,
    )
    # "# ok" says nothing; a "#" inside a string is not a comment.
    assert [f.line for f in findings] == [15, 19]  # 0-based


def test_tests_that_raise_on_purpose_may_swallow_it(tmp_path: Path) -> None:
    text = """
    def test_handler_survives(monkeypatch) -> None:
        try:
            raise RuntimeError("boom")
        except:
            pass
        try:
            warm_up()
        except:
            pass
        run_handlers()
    """
    assert check(tmp_path, "PE601", text, relative="tests/test_handlers.py") == []
    assert check(tmp_path, "PE601", text, relative="app/tests.py") == []
    # The same code outside the tests swallows real errors.
    assert len(check(tmp_path, "PE601", text, relative="app/handlers.py")) == 2


def test_a_test_that_swallows_its_own_assertion_is_reported(tmp_path: Path) -> None:
    # `self.fail` raises AssertionError, which the bare `except:` swallows: the test can never fail.
    findings = check(
        tmp_path,
        "PE601",
        """
        class FieldTest(TestCase):
            def test_invalid(self):
                try:
                    field.validate(data)
                    self.fail("should have raised")
                except:
                    pass
        """,
        relative="app/tests/test_fields.py",
    )
    assert len(findings) == 1
    assert "the test can never fail" in findings[0].detail


def test_cleanup_optional_imports_and_errors_while_handling_errors(tmp_path: Path) -> None:
    findings = check(
        tmp_path,
        "PE601",
        """
        def close(conn, engine) -> None:
            try:
                conn.close()
            except Exception:
                pass
            try:
                import ujson as json
                FAST = True
            except Exception:
                pass
            try:
                engine.run()
            except Exception:
                try:
                    engine.rollback()
                except Exception:
                    pass
                raise
            finally:
                try:
                    engine.report()
                except Exception:
                    pass


        class Pool:
            def shutdown(self) -> None:
                try:
                    self.flush_all()
                except Exception:
                    pass
        """,
    )
    assert findings == []


def test_except_exception_pass_is_left_alone_but_base_exception_is_not(tmp_path: Path) -> None:
    # Measured on the corpus: a silent `except Exception:` is nearly always a deliberate fallback.
    findings = check(
        tmp_path,
        "PE601",
        """
        def read(path: str) -> str:
            try:
                return load(path)
            except Exception:
                pass
            try:
                return load(path + ".bak")
            except BaseException:
                pass
            return ""
        """,
    )
    assert [f.line for f in findings] == [7]  # 0-based
    assert findings[0].message.startswith("except BaseException:")


def test_framework_errors_rendered_as_responses_need_no_chain(tmp_path: Path) -> None:
    # DRF, Django forms and FastAPI turn these into 400/404 responses without a traceback: `from` shows nowhere.
    findings = check(
        tmp_path,
        "PE602",
        """
        from django import forms
        from fastapi import HTTPException
        from rest_framework import exceptions


        def remove(code: str) -> None:
            try:
                user = lookup(code)
            except KeyError:
                raise exceptions.ValidationError("User not found.")
            try:
                read(user)
            except OSError:
                raise forms.ValidationError("Could not read file.")
            try:
                check(user)
            except LookupError:
                raise HTTPException(status_code=404)
            try:
                save(user)
            except OSError:
                raise RuntimeError("could not save")
        """,
    )
    assert [f.data["caught"] for f in findings] == ["OSError"]
    assert findings[0].line == 21  # 0-based
