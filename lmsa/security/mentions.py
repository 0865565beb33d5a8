"""When a text that looks like an attack is about one instead: the user's own earlier text set
aside, a phrase quoted to be translated or explained, a question about how to do something,
test data in code. :func:`injection.score_injection` halves its score for these.
"""

from __future__ import annotations

import re

from lmsa.security.deferred import deferred

# The user's own earlier text ("disregard the instructions I sent", "the paragraph I pasted"):
# setting it aside or repeating it is not aimed at the assistant's rules.
OWN_TEXT = deferred(
    r"\b(?:instructions?|rules?|guidelines?|directions?|notes?|steps?|text|paragraph|message|"
    r"email|e mail|format\w*|regl\w*|reglas|anweisung\w*|consignes?)\b(?: [\w']+){0,4}? "
    r"(?:(?:that|which) )?(?:i|we) (?:just |had |have )?(?:sent|gave|wrote|asked|mentioned|"
    r"shared|posted|emailed|pasted|provided)\b"
    r"|\bque te (?:pedi|di|mande|envie|escribi|dei|mandei|enviei)\b|\bdie ich (?:dir|euch) \w+"
    r"|\bque je (?:t'ai|vous ai)\b|\bche ti ho\b"
    r"|\bque eu (?:te |lhe )?(?:dei|passei|mandei|enviei|pedi)\b"
    r"|\bque j'ai (?:ecrit|redige|envoye)\b"
    # the rules of a named file, not the assistant's ("ignore the instructions in TODO.md")
    r"|\b(?:instruc\w*|rules?|regras?|regl\w*|regole|anweisung\w*|consignes?|guidelines?|steps?)"
    r" (?:d[oae]s?|del|della|dello|of|in|from|im|in der|aus der|aus dem|du|dans|nel|nella|no|na)"
    r" (?:(?!your |system |prompt)[\w-]+ ){0,2}?(?:arquivo|ficheiro|file|archivo|datei|fichier"
    r"|documento|document|readme|wiki"
    r"|(?!\S*(?:prompt|system))[\w-]+[ .](?:md|txt|rst|json|ya?ml|toml|cfg|ini)\b)"
    # CJK and Korean: "the plan I had you use before", "the rules I set at the start"
    r"|之前让你|之前讓你|我之前|我刚才|我剛才|我刚刚|我给你的|我給你的|私が言った|私が決めた|さっき私が"
    r"|내가 정해|내가 말한|내가 준|내가 알려|잘못 알려"
    r"|さっきの指示|さっき言った|先ほどの指示|さっきの方針"
    # "my previous instruction", "what I said earlier"
    r"|\bmy (?:previous|earlier|last) (?:instruction|message|request|note)s?\b"
    # the same in German, French, Spanish, Italian, Portuguese ("meine letzte Anweisung")
    r"|\b(?:meine[nr]?|ma|mes|mi|mis|la mia|le mie|minha|minhas)"
    r" (?:letzte\w*|vorherige\w*|vorige\w*|derniere?s?|precedent\w*|ultim\w*|anterior\w*)"
    r" (?:anweisung\w*|nachricht\w*|vorgabe\w*|consignes?|instruc\w*|istruzion\w*"
    r"|indicazion\w*|mensage\w*|mensaje\w*|messaggi\w*|message)"
    r"|\bwhat i (?:said|wrote|asked) (?:earlier|before|above)\b"
)
MENTION_CUE = deferred(
    r"^(?:please )?(?:translate|explain|what does|what is|what's|define|how do i detect|"
    r"is this an example|ubersetze|erklare|traduis|explique|traduce|explica|traduci|spiega|"
    r"traduza|traduz|traduzir|tradurre)\b"
)
# The same request in the other scripts, read from the raw text before the first quotation
# mark ("이 문장을 영어로 번역해 줘: \"...\"", "Объясни, почему «...»").
MENTION_NATIVE = deferred(
    r"^[^\"“”«»„「『]{0,80}?(?:переве|объясни|翻译|翻譯|解释|解釋|翻訳|説明|번역|설명|ترجم|اشرح)"
    r"[^\"“”«»„「『]{0,60}[\"“”«»„「『]"
)
META_QUESTION = deferred(
    r"^(?:is it (?:\w+ )?(?:a good idea|safe|wise|ok|okay|possible|risky)|should (?:i|we)|"
    r"what happens if|what are the (?:risks|trade ?offs|dangers|downsides)"
    r"|how (?:do|can|should) (?:i|we)"
    # "how do I write ...?" in the other languages: the asker's own task, not an order
    r"|wie (?:schreibe|kann|soll|erstelle|mache|baue) ich|wie schreibt man"
    r"|comment (?:puis-je|ecrire|rediger|faire)|como (?:puedo|escribo|hago|creo|posso|escrevo"
    r"|faco|crio)|come (?:posso|scrivo|faccio|creo))\b"
)
# The first sentence is a question ("How do I change ...? I'd like ...")
FIRST_QUESTION = deferred(r"[^.!\n]{0,200}\?")
# "How do I ...?" in the other scripts, in the first sentence
META_NATIVE = deferred(
    r"[^。.!！\n]{0,120}?"
    r"(?:どうすれば|どうやって|どのように|怎么|怎樣|怎样|如何|举个例子|舉個例子|어떻게|كيف)"
    r"[^。.!！\n]{0,80}[?？؟]"
)
# The subject of a code comment that is the code itself ("this function ignores the previous
# settings")
_CODE_SUBJECT = deferred(
    r"\b(?:this|the) (?:function|method|script|option|flag|setting|endpoint)\b"
    r"|この関数|该函数|本函数|此函数|这个函数|該函數|이 함수|해당 함수|هذه الدالة"
    r"|\bdiese (?:funktion|methode)\b|\bcette (?:fonction|m[ée]thode)\b"
    r"|\besta (?:funci[oó]n|função)\b|\bquesta funzione\b|эта функция|этот метод"
)
# Test data in code: a string literal in a list or an assertion, not a message
CODE_SAMPLE = deferred(r"\bdef \w+\(|\bassert\b|^[^\S\n]*(?:import|from) \w|\w+ = \[", re.MULTILINE)
QUESTION_MARK = deferred(r"[?？؟]")
_QUOTE_MARKS = deferred(r"[\"“”«»„`「『]")
# An apostrophe inside a word ("what's", "l'IA") quotes nothing.
_QUOTE_APOSTROPHE = deferred(r"\B'|'\B")


def has_quotes(text: str) -> bool:
    return bool(_QUOTE_MARKS.search(text)) or ("'" in text and bool(_QUOTE_APOSTROPHE.search(text)))


_COMMENT_START = ("//", "#", "/*", "*", "--")


def code_comment_about_code(raw: str) -> bool:
    """Whether a comment line of code says what the code does ("// this function ignores the
    previous settings"), as opposed to a sentence that merely names a setting."""
    for match in _CODE_SUBJECT.finditer(raw):
        line = raw[raw.rfind("\n", 0, match.start()) + 1 : match.start()].lstrip()
        if line.startswith(_COMMENT_START):
            return True
    return False
