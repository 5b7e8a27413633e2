"""The terms a manual defines (options, the programs its NAME lines name) and the one a
question describes in other words."""

from outweigh.prompt import Citation
from outweigh.retrieval.terms import described, program, replace_reading, terms

MKDIR = """MKDIR(1) User Commands MKDIR(1)
NAME
mkdir - make directories
DESCRIPTION
-m, --mode=MODE
set file mode (as in chmod), not a=rwx - umask
-p, --parents
no error if existing, make parent directories as needed, with
-v, --verbose
print a message for each created directory
--context[=CTX]
like -Z, or if CTX is specified then set the SELinux or SMACK
GNU coreutils 9.1 September 2022 MKDIR(1)"""

UNIQ = """NAME
uniq - report or omit repeated lines
-i, --ignore-case
ignore differences in case when comparing
-w, --check-chars=N
compare no more than N characters in lines"""


def cite(n: int, text: str, source: str = "page.txt") -> Citation:
    return Citation(n, source, n, text, 1.0, text)


def test_terms_are_option_lines_name_lines_and_headings_that_name_options():
    found = {t.label: t for t in terms(MKDIR)}
    assert list(found) == ["mkdir", "-m, --mode", "-p, --parents", "-v, --verbose", "--context"]
    assert found["mkdir"].kind == "command" and found["mkdir"].text == "make directories"
    # An option's text: its long name, its description's first line; not the footer.
    assert "parent directories as needed" in found["-p, --parents"].text
    assert "MKDIR" not in found["--context"].text and "like -Z" in found["--context"].text
    page = "pstree(1), параметр -T\n\nСкрывать нити и показывать только процессы."
    (head,) = terms(page)
    assert (head.names, head.kind) == (("-T",), "option")
    assert head.text == "Скрывать нити и показывать только процессы."
    # A program's text: its NAME line's, and the first lines of the section under it.
    head = "NAME\nhead - output the first part of files\nDESCRIPTION\nPrint the first 10 lines"
    assert terms(head)[0].text == "output the first part of files Print the first 10 lines"
    # Texinfo quotes its option lines.
    info = "'-d --decompress'\nForce decompression.\n'-s --small'\nReduce memory usage."
    assert [(t.names, t.text.strip()) for t in terms(info)] == [
        (("-d", "--decompress"), "decompress  Force decompression."),
        (("-s", "--small"), "small  Reduce memory usage."),
    ]
    # A line that mentions an option is not a heading that names one.
    assert terms("like -Z, or if CTX is specified\nset the context") == []
    assert program(MKDIR) == "mkdir" and program(page) == "pstree" and program("-a\nall") is None


def test_the_term_a_question_describes_in_other_words():
    pages = [cite(1, MKDIR), cite(2, UNIQ, "uniq.txt")]
    found = described("How do I make directories with parents as needed?", pages, "any")
    assert found is not None and found.best is not None
    assert found.best[0].label == "-p, --parents"
    # Two terms the question describes about as well: none leads.
    tie = described("Which option compares lines and case?", pages, "option")
    assert tie is None or tie.best is None
    # An option the question names is not what it asks for.
    named = described("What does --parents do to directories as needed?", pages, "option")
    assert named is None or named.best is None or named.best[0].label != "-p, --parents"


def test_a_copied_description_or_a_program_for_its_option_becomes_the_term():
    page = "pstree(1), параметр -T\n\nСкрывать нити и показывать только процессы."
    other = "pstree(1), параметр -a\n\nПоказывать аргументы командной строки."
    pages = [cite(1, page), cite(2, other)]
    ask = "Как в pstree скрыть нити и оставить только процессы?"
    copied = "Скрывать нити и показывать только процессы. [1]"
    assert replace_reading(copied, ask, pages) == "pstree -T [1]"
    option = "Какой параметр pstree скрывает нити и оставляет только процессы?"
    assert replace_reading("-a [2]", option, pages) == "-T [1]"
    assert replace_reading("-T [1]", option, pages) is None  # named as the reader read it
    mkdir = [cite(1, MKDIR)]
    ask = "How do I make directories with parents as needed?"
    assert replace_reading("mkdir [1]", ask, mkdir) == "mkdir -p, --parents [1]"


def test_a_question_that_describes_no_term_keeps_the_reading():
    pages = [cite(1, MKDIR), cite(2, UNIQ, "uniq.txt")]
    for ask in ("What is the capital of France?", "How do I bake bread?", "Who wrote mkdir?"):
        assert replace_reading("Paris [1]", ask, pages) is None
    # A question that asks for a version or a person asks for no term.
    assert replace_reading("9.1", "Which version of mkdir makes parent directories?", pages) is None


def test_a_how_question_keeps_an_answer_of_its_own():
    """To "How do I ...?", an answer that names no term and is not a term's description
    stays: the passages' options are not the only way to do something."""
    page = cite(1, "-v, --verbose\nrun the tests verbosely, one line each")
    ask = "How do I run the tests one line each?"
    assert replace_reading("pytest [1]", ask, [page]) is None
    assert replace_reading("run the tests verbosely [1]", ask, [page]) == "-v, --verbose [1]"
    assert terms("1.2.3 - fix the parser") == []  # a changelog's entry, not a program


def test_a_program_is_run_with_its_own_option():
    """ "echo --no-newline" joins echo to readlink's option: the answer is echo's own option
    the question describes, or echo alone where none leads."""
    echo = cite(
        1, "NAME\necho - display a line of text\nDESCRIPTION\n-n do not output the trailing newline"
    )
    readlink = cite(2, "-n, --no-newline\ndo not output the trailing delimiter", "readlink.txt")
    ask = "How can I print text without a trailing newline?"
    assert replace_reading("echo --no-newline [1]", ask, [echo, readlink]) == "echo -n [1]"
    assert replace_reading("echo -n [1]", ask, [echo, readlink]) is None
    uniq = cite(
        1, "NAME\nuniq - report or omit repeated lines\n-d, --repeated\nonly print duplicates"
    )
    csplit = cite(2, "-z, --elide-empty-files\nremove empty output files", "csplit.txt")
    ask = "How do I omit repeated lines that are next to each other?"
    assert replace_reading("uniq --elide-empty-files [2]", ask, [uniq, csplit]) == "uniq [1]"
