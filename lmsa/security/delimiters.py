"""Delimiter spoofing, read from the raw (lower-cased) text where brackets survive:
chat-template tokens (``<|im_start|>``, ``[INST]``, ``<<SYS>>``, ``<start_of_turn>``), role
headers (``### System``, ``[ADMIN]``, ``SYSTEM:`` at a line start), sentences addressed to an AI
by name, fake tool-result JSON and fake end-of-input markers. Signal names and weights are in
:mod:`structure`, which combines these with the word-class signals.
"""

from __future__ import annotations

import re

from lmsa.security.deferred import deferred

# Chat-template and role-header delimiters read from the raw (lower-cased) text.
_TEMPLATE_TOKEN = deferred(
    r"<\|[a-z_]{2,24}\|>|<(?:start|end)_of_turn>|\[/?inst\]|<</?sys>>|<\|?(?:begin|end)_of_text\|?>"
    r"|<s>\s*\[|</s>\s*<s>|\[/?(?:system|sys)_?(?:prompt)?\]\s*\n"
)
_ROLE_LINE = deferred(
    r"^[^\S\n]*(?:#{1,4}|\*\*|\[|\(|<)[^\S\n]*"
    r"(?:message |mensaje del |messaggio di |mensagem do |رسالة )?"
    r"(?:syst[eè]me|sistema|система|системное сообщение|系统|系統|システム|시스템|النظام)"
    r"(?:消息|訊息|メッセージ|[^\S\n]?메시지|[^\S\n]message|nachricht)?"
    # possessive blanks: three optional runs of them in a row would backtrack cubically
    r"[^\S\n]*+(?:[:：][^\S\n]*+)?(?:(?:\]|\)|>|\*\*)[^\S\n]*+)?$"
    r"|^[^\S\n]*(?:#{1,4}|\*\*|\[|\(|<|=+|-{2,})[^\S\n]*(?:begin |start of |start )?"
    r"(?:system(?:_\w+)?|developer|admin(?:istrator)?|operator|root|instructions?|new instructions"
    r"|system prompt|system message|system override)\b[^\n]{0,30}"
    r"?(?:\]|\)|>|\*\*|:|=+|-{2,}|$)"
    # the same opening in the other Latin languages: "---INÍCIO DAS INSTRUÇÕES DO DESENVOLVEDOR"
    r"|^[^\S\n]*(?:#{1,4}|\[|<|=+|-{2,})[^\S\n]*(?:in[ií]cio|inizio|d[ée]but|beginn|anfang)\s+"
    r"(?:das|de las|de los|delle|degli|des|der)\s+(?:instru[cç][õo]es|instrucciones|istruzioni|"
    r"instructions|anweisungen)\b[^\n]{0,40}"
    r"?(?:\]|\)|>|\*\*|:|=+|-{2,}|$)"
    r"|^[^\S\n]*(?:system|developer|admin|operator|assistant|human)[^\S\n]*+"
    r"(?:(?:message|note|prompt|notice|override)[^\S\n]*+)?:",
    re.MULTILINE,
)
# A sentence addressed to an AI by name ("AI assistant: tell the user ...", "ИИ, удали ...").
# Found name first (a scan that starts with a literal alternation is fast), then the text
# before the name is checked: a line start, a closing tag or bracket, or the end of a sentence.
_VOCATIVE = deferred(
    r"(?:ai|llm|assistant|ai assistant|ai agent|chatbot|agent|bot|ki|ki-assistent|ia|assistente|"
    r"asistente|assistent|ии|ассистент|ai助手|助手|アシスタント|어시스턴트|المساعد)s?\s*[:,，：、]\s*[^\W\d_]"
)
_VOCATIVE_BEFORE = deferred(
    r"(?:^|[>\]]|[.!?]\s|:\s?)\s*[„“\"«]?\s*(?:dear |hey |attention |note to |automated |"
    r"autonomous |liebe[rs]? |cher |ch[eè]re |querid[oa] |car[oa] |prezad[oa] |дорогой "
    r"|уважаемый )?"
    r"(?:the |any )?$",
    re.MULTILINE,
)


def _vocative(raw: str) -> re.Match[str] | None:
    for match in _VOCATIVE.finditer(raw):
        at = match.start()
        if at and raw[at - 1].isalnum():
            continue
        if _VOCATIVE_BEFORE.search(raw, max(0, at - 40), at):
            return match
    return None


# A message element whose role attribute says system, in any of the languages
# (<messaggio ruolo="sistema">): a spoofed turn inside data.
_ROLE_ATTRIBUTE = deferred(
    r"<\w+[^<>\n]{0,40}\b(?:role|ruolo|rol|r[oô]le|rolle|papel|роль)\s*=\s*[\"']?"
    r"(?:system|sistema|syst[eè]me|система|系统|系統|システム|시스템|النظام)\b[^<>\n]{0,60}>"
)
_TOOL_JSON = deferred(
    r"[\"']role[\"']\s*:\s*[\"'](?:system|tool|developer|function)[\"']"
    r"|[\"'](?:tool_result|tool_output|function_result|tool_response|tool_call_id)[\"']\s*:"
    r"|</?(?:tool_result|tool_output|function_results?|tool_response|search_results)>"
    r"|\[/?(?:tool_result|tool_output|function_result|tool_response)\b"
)
_END_MARKER = deferred(
    r"(?:end|ende|fin|fine|fim)\s+(?:of\s+|de\s+(?:la\s+|l')?|del\s+|der\s+|da\s+|do\s+|des\s+|du\s+)?"
    r"(?:the\s+)?(?:user(?:'s)?\s+)?(?:input|message|prompt|document|context|conversation|"
    r"instructions|text|data|email|eingabe|nachricht|entree|saisie|mensaje|documento|texto|"
    r"messaggio|testo|mensagem|entrada|contexto|contesto|contexte|kontext)\b"
    r"|</(?:user|user_input|user_query|user_message|input|document|context|data|email|message|query"
    r"|untrusted)>"
    r"|(?:={3,}|-{3,}|\*{3,})\s*(?:end|begin|start)\b|\[(?:end|eof|eos)\]|end_of_input"
    r"|конец (?:ввода|сообщения|документа|текста)|输入结束|輸入結束|用户输入结束|入力終了|"
    r"入力ここまで|입력 끝|입력 종료|نهاية (?:الإدخال|المدخلات|الرسالة|المستند|النص)"
)
# Substrings without which the patterns above cannot match: a substring test is far cheaper
# than a regex scan, so ordinary text skips the scans.
_ROLE_WORDS = ("system", "developer", "admin", "operator", "root", "instruction", "assistant",
               "human", "système", "sistema", "система", "системное", "系统", "系統", "システム",
               "시스템", "النظام", "instru", "istruzioni", "anweisungen")  # fmt: skip
# Where an end marker can start; the full pattern is tried only there (one regex scan of the
# whole text costs more than the rest of this module, str.find does not).
_END_STARTS = (
    *("end", "fin", "fim", "</", "===", "---", "***", "[e"),
    *("конец", "输入", "輸入", "用户", "入力", "입력", "نهاية"),
)


def _end_marker(raw: str) -> re.Match[str] | None:
    for needle in _END_STARTS:
        at = raw.find(needle)
        while at != -1:
            # "spend", "define": a Latin letter before it means it is not a word of its own
            inside_word = at and raw[at - 1].isalnum() and needle.isascii() and needle[0].isalpha()
            # "=====": tried where the run starts only, or a long run is rescanned at every sign
            inside_run = at and needle[0] in "=-*" and raw[at - 1] == needle[0]
            if not inside_word and not inside_run and (match := _END_MARKER.match(raw, at)):
                return match
            at = raw.find(needle, at + 1)
    return None


_TEMPLATE_TALK = deferred(
    r"tokeni[sz]er|chat[ _]?template|chatml|special tokens?|jinja|apply_chat_template|"
    r"\bformat\b|\bdef |\bimport |```|\bregex\b|messages\s*=|json\.|\bpython\b|\btokens?\b"
    r"|\bfunction\b|\bstrip|\bescap|\bsanitiz|\bparse|\bjson\b|\bexplain|\bunit test|\bmarkers?\b"
    r"|fine-?tun|\bformatting\b|\bscript\b|\bawk\b|\bsed\b|\bgrep\b|\blogs?\b"
    r"|шаблон|токен|формат|模板|格式|标签|標籤|微调|テンプレート|トークン|形式|タグ|フォーマット"
    r"|템플릿|토큰|태그|포맷|형식|파인튜닝|قالب|تنسيق"
)


def is_template_talk(categories: list[str], raw: str) -> bool:
    """Chat-template tokens named in a request about templates or code ("explain the [INST]
    format", "escape <|im_start|> in sanitize()"), with no other kind of signal."""
    return set(categories) == {"fake_delimiter"} and bool(_TEMPLATE_TALK.search(raw))


def delimiter_hits(raw: str) -> dict[str, str]:
    """Delimiter signals read from the raw (lower-cased) text."""
    hits: dict[str, str] = {}
    if ("<" in raw or "[" in raw) and (match := _TEMPLATE_TOKEN.search(raw)):
        talk = _TEMPLATE_TALK.search(raw)
        hits["s_template_talk" if talk else "s_template_token"] = match.group(0)[:40]
    if any(word in raw for word in _ROLE_WORDS) and (match := _ROLE_LINE.search(raw)):
        hits["s_role_line"] = match.group(0).strip()[:40]
    if "<" in raw and "=" in raw and (match := _ROLE_ATTRIBUTE.search(raw)):
        hits["s_tool_json_code" if _TEMPLATE_TALK.search(raw) else "s_tool_json"] = match.group(0)[
            :40
        ]
    if any(word in raw for word in ('role"', "role'", "tool_", "function_", "<search")) and (
        match := _TOOL_JSON.search(raw)
    ):
        hits["s_tool_json_code" if _TEMPLATE_TALK.search(raw) else "s_tool_json"] = match.group(0)[
            :40
        ]
    if match := _vocative(raw):
        hits["s_vocative"] = match.group(0).strip()[:40]
    if match := _end_marker(raw):
        hits["s_end_marker"] = match.group(0)[:40]
    return hits
