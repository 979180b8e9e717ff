"""Reading a rendered portal page in view tests."""


def main_content(body: str) -> str:
    """The page's own content, inside <main>: what a view put there, without the header's
    and footer's parts every page shares (the live balance's script file among them)."""
    return body[body.index("<main"): body.index("</main>")]
