"""placeholder"""


def main(argv: object) -> int:
    return 0
