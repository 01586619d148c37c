"""Running the project's tests: which interpreter (`interpreter`), which tests (`targets`), the pytest
subprocess and its progress (`runner`), what its JUnit report says (`junit`), the outcome (`results`) and the
fix-and-rerun bookkeeping (`attempts`). PE901/PE902 findings are built from a run by their rule module,
`engine/rules/failing_tests.py`.
"""
