"""Cue lexicons for scripts the Latin-folded views cannot read: Russian, Chinese, Japanese,
Korean and Arabic (Italian and Portuguese are Latin-script and live in :mod:`injection`).

Hand-written lists of cue phrases per attack family, one regular expression per family and
language, written from how each language phrases the family's request. They read the ``native`` view: NFKC, format characters removed,
lower-cased, Arabic diacritics and tatweel removed, but no lookalike folding (that would turn
Cyrillic into mixed-script noise). CJK has no word boundaries, so a cue is two parts (a verb
and its object) with a short gap of any non-sentence-ending characters between them.

The families and weights mirror the Latin-script scorer: ``override`` (ignore previous
instructions), ``extraction`` (reveal the system prompt), ``role`` (unrestricted persona,
developer mode), ``approval`` (act without confirmation, change one's own settings),
``exfil`` (send files or secrets somewhere), ``authority`` (a message claiming to come from the
developers or the system).
"""

# ruff: noqa: E501  (cue tables in CJK and Arabic: a phrase split across lines cannot be read)
from __future__ import annotations

import functools
import re
import unicodedata

from lmsa.security.deferred import deferred
from lmsa.security.normalize import strip_format_chars, unspaced

# Characters of the scripts this module reads; a text without any skips it entirely.
_SCRIPTS = deferred(r"[\u0400-\u04ff\u0600-\u06ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_ARABIC_MARKS = deferred(r"[\u064b-\u065f\u0670\u0640]")
_GAP = r"[^。！？!?\n.]{0,14}?"  # a short stretch inside one sentence (CJK)
# up to four words (ru, ar, ko); "\s+" between them, so a long token splits only one way
_WGAP = r"(?:\s+\S+){0,4}?\s*"


def _cjk(verbs: str, objects: str) -> str:
    return rf"(?:{verbs}){_GAP}(?:{objects})"


def _words(verbs: str, objects: str) -> str:
    return rf"(?:{verbs})\S*{_WGAP}(?:{objects})"


# -- Russian -----------------------------------------------------------------------------------
_RU_OBJ = r"инструкци|указани|правил|предписани|системн\S* (?:промпт|сообщени|подсказ)|промпт"
_RU = {
    "override": _words(
        r"игнорируй|проигнорируй|забудь|забудьте|игнорируйте|не обращай внимания на|"
        r"не следуй|отмени|пренебреги|обойди",
        _RU_OBJ + r"|вс[её],? что (?:тебе|вам) (?:говорили|сказали)",
    )
    + r"|(?:предыдущие|прежние|старые) (?:инструкции|правила) (?:отменены|больше не действуют|"
    r"недействительны)|новые инструкции",
    "extraction": _words(
        r"покажи|выведи|раскрой|повтори|напиши|скажи|перескажи|процитируй|дай|какие",
        r"(?:свой|свои|твой|твои|ваш|ваши|системн)\S* (?:\S+ )?(?:промпт|инструкци|правил|"
        r"настройк|подсказ|сообщени)|текст выше|скрыт\S* (?:инструкци|правил|промпт)",
    ),
    "role": r"(?:теперь ты|ты теперь|ты больше не)(?:\s+\S+){0,4}?\s*(?:без (?:ограничений|"
    r"правил|фильтров|цензуры)|dan|свободн|неограниченн|злой|взломанн)|режим (?:разработчика|"
    r"бога|без ограничений)|без каких[- ]либо ограничений|(?:ии|модель|ассистент) без "
    r"(?:ограничений|правил|фильтров|цензуры)|(?:сыграй|играй|притворись|представь)\S*"
    r"(?:\s+\S+){0,6}?\s*(?:без (?:ограничений|правил|фильтров|цензуры)|не отказывает)",
    "approval": r"без (?:подтверждени|одобрени|разрешени|спроса|запроса)\S*|автоматически "
    r"(?:одобр|подтвержд)\S*|(?:отключи|выключи|обойди|пропусти)\S*(?:\s+\S+){0,3}?\s*"
    r"(?:подтверждени|одобрени|проверк|защит|фильтр)\S*|одобряю вс[её]",
    "exfil": _words(
        r"отправь|отправьте|перешли|загрузи|выгрузи|скопируй|пошли|передай",
        r"\S*(?:\.env|ключ|парол|токен|секрет|учетн|учётн|id_rsa|ssh|файл|содержим)",
    ),
    "priority": r"(?:важнее|приоритетнее|имеют приоритет над) (?:твоего|твоих|твоей|системн)",
    "suspended": r"(?:правила|ограничения|фильтры|инструкции)(?:\s+\S+){0,3}?\s+(?:временно )?"
    r"(?:отключены|сняты|приостановлены|отменены|не действуют)|отключи\S* (?:все )?фильтр",
    "persona": r"никогда не отказыва\S*|не выходи из роли|(?:нет|без) (?:никаких )?(?:правил|ограничений|морали)",
    "read": r"прочитай|прочти|покажи|выведи|вставь|открой|скопируй",
    "authority": r"(?:сообщение|уведомление|указание) от (?:разработчик|администратор|"
    r"систем|команды)|(?:я|мы) (?:твой|твои|ваш) (?:разработчик|создател|администратор)|"
    r"системное уведомление",
}

# -- Chinese (simplified and traditional) ------------------------------------------------------
_ZH_OBJ = r"指令|指示|规则|規則|说明|說明|设定|設定|提示词|提示詞|约束|約束|限制"
_ZH_SHOW = r"显示|顯示|输出|輸出|打印|告诉我|告訴我|透露|泄露|洩露|重复|重複|复述|複述|给我看|給我看|列出|写出|寫出|翻译|翻譯"
_ZH_PROMPT = (
    r"系统提示|系統提示|系统指令|系統指令|系统消息|系統訊息|初始指令|隐藏的?(?:指令|规则|提示)|"
    r"隱藏的?(?:指令|規則|提示)|你的(?:\S{0,4}?)(?:指令|规则|規則|提示词|提示詞|设定|設定|配置)|"
    r"上面的(?:文字|内容|內容)"
)
_ZH = {
    "override": _cjk(r"忽略|无视|無視|忘记|忘記|忘掉|不要理会|不要理會|不要遵守|别管|別管|抛开|拋開|绕过|繞過",
                     _ZH_OBJ + r"|之前的|上面的|以上")
    + r"|(?:之前|先前|以前|原来|原來)的(?:指令|规则|規則|指示)(?:已|都)?(?:作废|作廢|失效|无效|無效|取消)"
    r"|新的?(?:指令|指示|任务|任務)[：:]",
    "extraction": _cjk(_ZH_SHOW, _ZH_PROMPT) + "|" + _cjk(r"把|將|将", "(?:" + _ZH_PROMPT + ")" + _GAP + "(?:" + _ZH_SHOW + ")"),
    "role": r"(?:现在|現在|从现在起|從現在起)你是" + _GAP + r"(?:没有|沒有|不受|无|無)(?:任何)?(?:限制|规则|規則|过滤|過濾|审查|審查)"
    r"|开发者模式|開發者模式|越狱|越獄|(?:扮演|假装|假裝)" + _GAP + r"(?:没有|沒有|不受|无|無)(?:任何)?(?:限制|规则|規則|过滤|過濾|道德)"
    r"|(?:不受|没有|沒有)(?:任何)?(?:限制|约束|約束)的(?:ai|人工智能|助手|模型)",
    "approval": r"(?:不要|无需|無需|不用|无须|無須|不必)(?:再)?(?:询问|詢問|请求|請求|征求|徵求|等待)?(?:我的)?(?:确认|確認|批准|同意|许可|許可)"
    r"|自动(?:批准|确认|通过)|自動(?:批准|確認|通過)|(?:关闭|關閉|禁用|跳过|跳過|绕过|繞過)" + _GAP + r"(?:审批|審批|批准|确认|確認|安全检查|安全檢查|防护|防護)",
    "exfil": r"(?:\.env|密钥|密鑰|密码|密碼|令牌|凭据|憑據|id_rsa|ssh|文件|檔案|内容|內容|代码|代碼|配置)[^。\n]{0,30}?"
    r"(?:发送|發送|上传|上傳|传到|傳到|发到|發到|转发|轉發|复制到|複製到|寄到)[^。\n]{0,10}?(?:https?://|网址|網址|服务器|伺服器|邮箱|郵箱|@)"
    r"|(?:发送|發送|上传|上傳|转发|轉發)[^。\n]{0,10}?(?:\.env|密钥|密鑰|密码|密碼|令牌|凭据|憑據|id_rsa|ssh)[^。\n]{0,20}?(?:到|至)[^。\n]{0,5}?https?://",
    "priority": r"优先于(?:你的)?(?:系统|規則|规则|指令|设定|設定)|優先於(?:你的)?(?:系統|規則|指令|設定)",
    "suspended": r"(?:规则|規則|限制|过滤|過濾|安全规则|安全規則)(?:已|已经|已經|被)?(?:暂停|暫停|取消|解除|关闭|關閉|失效)"
    r"|(?:关闭|關閉|去掉|移除|禁用)(?:你的)?(?:过滤|過濾|审查|審查|安全(?:规则|規則|限制))",
    "persona": r"永远不(?:拒绝|拒絕)|從不拒絕|从不拒绝|没有任何(?:道德|规则|限制)|沒有任何(?:道德|規則|限制)|保持角色",
    "read": r"读取|讀取|读一下|显示|顯示|贴|貼|输出|輸出|打开|打開",
    "authority": r"(?:来自|來自)(?:开发|開發|系统|系統|管理员|管理員|官方)" + _GAP + r"(?:消息|訊息|通知|指令)"
    r"|我是你的(?:开发者|開發者|创造者|創造者|管理员|管理員)|系统通知|系統通知",
}  # fmt: skip

# -- Japanese ----------------------------------------------------------------------------------
_JA = {
    "override": _cjk(r"以前の|これまでの|前の|上記の|全ての|すべての", r"指示|命令|ルール|規則|指令|設定")
    + _GAP + r"(?:無視|忘れ|従わな|破棄)"
    + r"|" + _cjk(r"無視して|忘れて", r"指示|命令|ルール|規則")
    + r"|(?:指示|命令|ルール|規則|指令|制約)(?:を|は)?(?:すべて|全て|全部)?(?:無視|忘れ)"
    + r"|新しい(?:指示|命令|ルール)[：:は]",
    "extraction": _cjk(r"システムプロンプト|システムメッセージ|初期指示|隠された(?:指示|ルール)|あなたの(?:指示|ルール|設定|プロンプト)|上の(?:文章|テキスト)",
                       r"表示|見せ|教え|出力|繰り返|書き出|開示|翻訳|全文"),
    "role": r"(?:今から|これから|今や)?あなたは" + _GAP + r"(?:制限|ルール|フィルター|検閲)(?:の|が)?(?:ない|無い|なし)"
    r"|開発者モード|脱獄|ジェイルブレイク|(?:演じ|ふりをし|なりきっ)" + _GAP + r"(?:制限|ルール|フィルター)(?:の|が)?(?:ない|無い)"
    r"|(?:制限|ルール|フィルター)(?:の|が)?(?:ない|無い)(?:ai|アシスタント|モデル)",
    "approval": r"(?:確認|承認|許可)(?:を|は)?(?:求めず|取らず|せずに|なしで|不要|待たず)|自動(?:的に)?承認"
    r"|(?:承認|確認|安全チェック)" + _GAP + r"(?:スキップ|無効|オフ|回避)",
    "exfil": r"(?:\.env|秘密鍵|パスワード|トークン|apiキー|認証情報|id_rsa|ssh|ファイル|内容)[^。\n]{0,40}?"
    r"(?:https?://|サーバー|メールアドレス|@)[^。\n]{0,40}?(?:送信|送っ|送れ|アップロード|転送)",
    "priority": r"(?:システムプロンプト|指示|ルール|設定)より優先",
    "suspended": r"(?:ルール|規則|制限|フィルター|安全ルール)(?:は|が)?" + _GAP + r"(?:一時)?(?:停止|解除|無効|オフ|撤廃)"
    r"|フィルター(?:を)?(?:外|無効|オフ|解除)",
    "persona": r"(?:決して|絶対に)断らな|ルールのない|キャラを守|役になりきっ",
    "read": r"読んで|読み込|表示|貼り付け|出力|開いて",
    "authority": r"(?:開発者|開発チーム|システム|管理者|運営)(?:から|より)の(?:メッセージ|通知|指示)"
    r"|私はあなたの(?:開発者|作成者|管理者)",
}  # fmt: skip

# -- Korean ------------------------------------------------------------------------------------
_KO_OBJ = r"지시|지침|규칙|명령|설정|프롬프트|안내"
_KO = {
    "override": rf"(?:이전|앞의|위의|모든|기존)\S*{_WGAP}(?:{_KO_OBJ})\S*{_WGAP}(?:무시|잊어|잊고|따르지)"
    rf"|(?:{_KO_OBJ})\S*{_WGAP}(?:무시하|잊어버리|잊으)|새로운 (?:지시|명령|규칙)",
    "extraction": rf"(?:시스템 ?프롬프트|시스템 ?메시지|초기 지시|숨겨진 (?:지시|규칙)|너의 (?:지시|규칙|설정|프롬프트)|당신의 (?:지시|규칙|설정|프롬프트)|위의 (?:텍스트|글|내용))\S*{_WGAP}(?:보여|알려|출력|반복|공개|말해|번역|적어)",
    "role": r"(?:이제|지금부터|이제부터)\s*(?:너는|당신은)(?:\s+\S+){0,5}?\s*(?:제한|규칙|필터|검열)\S*\s*(?:없는|없이)"
    r"|개발자 모드|탈옥|(?:제한|규칙|필터|검열)\S*\s*없는 (?:ai|인공지능|어시스턴트|모델|챗봇)"
    r"|(?:연기|역할|척)(?:\s+\S+){0,4}?\s*(?:제한|규칙|필터)\S*\s*없",
    "approval": r"(?:확인|승인|허락|허가)\S*\s*(?:없이|받지 말고|묻지 말고|구하지 말고)|자동(?:으로)? 승인"
    r"|(?:승인|확인|보안)\S*(?:\s+\S+)?\s*(?:건너뛰|생략|끄|꺼|비활성)",
    "exfil": rf"(?:\.env|비밀번호|암호|토큰|api ?키|키 파일|자격 증명|id_rsa|ssh|파일|내용)\S*{_WGAP}(?:https?://\S+|[^\s@]+@\S+|서버)\S*{_WGAP}(?:보내|전송|업로드|올려)",
    "priority": r"(?:시스템 ?프롬프트|지시|규칙|설정)보다 우선",
    "suspended": r"(?:규칙|제한|필터|보안 규칙)\S*(?:\s+\S+){0,2}?\s*(?:일시 )?(?:중지|해제|비활성|무효)"
    r"|필터\S*\s*(?:끄|꺼|해제|없애)",
    "persona": r"절대 거절하지|규칙이 없는|캐릭터를 유지|역할을 연기",
    "read": r"읽고|읽어|보여|붙여|출력|열어",
    "authority": r"(?:개발자|개발팀|시스템|관리자|운영팀)(?:로부터|에게서|의) (?:메시지|공지|지시|알림)|나는 (?:너의|당신의) (?:개발자|제작자|관리자)",
}  # fmt: skip

# -- Arabic ------------------------------------------------------------------------------------
_AR_OBJ = (
    r"التعليمات|تعليمات|القواعد|قواعد|الأوامر|الاوامر|الإرشادات|الارشادات|التوجيهات|موجه النظام"
)
_AR = {
    "override": _words(r"تجاهل|انس|إنس|أنس|لا تتبع|لا تلتزم|تخط|تخطى|اترك", _AR_OBJ + r"|كل ما قيل لك|ما سبق")
    + r"|(?:التعليمات|القواعد) السابقة (?:ملغاة|لم تعد سارية|باطلة)|تعليمات جديدة",
    "extraction": _words(r"اعرض|أظهر|اظهر|اكشف|كرر|اطبع|أخبرني|اخبرني|أعطني|اعطني|اكتب|ترجم|ما هي",
                         r"موجه النظام|رسالة النظام|تعليمات النظام|(?:تعليماتك|قواعدك|إعداداتك|اعداداتك|موجهك)|التعليمات (?:المخفية|الأولية|الاولية|السرية)|النص (?:أعلاه|اعلاه)"),
    "role": r"(?:أنت الآن|انت الان|أنت الان|انت الآن|من الآن أنت|من الان انت)(?:\s+\S+){0,5}?\s*(?:بلا|بدون|دون) (?:قيود|قواعد|حدود|فلاتر|رقابة)"
    r"|وضع المطور|(?:ذكاء اصطناعي|مساعد|نموذج) (?:بلا|بدون|دون) (?:قيود|قواعد|فلاتر|رقابة)"
    r"|(?:تظاهر|مثل دور|العب دور|تقمص)(?:\s+\S+){0,6}?\s*(?:بلا|بدون|دون) (?:قيود|قواعد|حدود|فلاتر)",
    "approval": r"(?:بدون|دون|بلا) (?:طلب )?(?:تأكيد|موافقة|إذن|اذن)|(?:وافق|موافقة) تلقائي"
    r"|(?:تخط|تجاوز|عطل|أوقف|اوقف)\S*(?:\s+\S+){0,3}?\s*(?:الموافقة|التأكيد|التحقق|الحماية)",
    "exfil": _words(r"أرسل|ارسل|ارفع|انسخ|حول|حوّل",
                    r"\S*(?:\.env|مفتاح|المفاتيح|كلمة المرور|كلمات المرور|الرمز|الرموز|بيانات الاعتماد|id_rsa|ssh|ملف|محتوى|محتويات)")
    + r"(?=.*(?:https?://|@))",
    "priority": r"(?:لها|ذات) الأولوية على (?:موجه|تعليمات|قواعد)",
    "suspended": r"(?:قواعد|القواعد|القيود|الفلاتر|قيود)(?:\s+\S+){0,2}?\s+(?:معطلة|ملغاة|موقوفة|متوقفة|مرفوعة)"
    r"|(?:عطل|أوقف|اوقف|أزل|ازل) (?:كل )?(?:الفلاتر|الرقابة|القيود)",
    "persona": r"لا (?:يرفض|ترفض) (?:أي طلب|أبدا|ابدا)|بلا قواعد|ابق في الدور|ابقَ في الدور",
    "read": r"اقرأ|اقرا|اعرض|الصق|افتح|انسخ",
    "authority": r"(?:رسالة|إشعار|اشعار|تعليمات) من (?:المطورين|المطور|فريق التطوير|النظام|الإدارة|الادارة|المسؤول)"
    r"|(?:أنا|انا) (?:مطورك|المطور الخاص بك|مسؤولك)",
}  # fmt: skip

WEIGHTS = {
    "override": 0.85,
    "extraction": 0.85,
    "role": 0.75,
    "approval": 0.7,
    "exfil": 0.85,
    "authority": 0.5,
    "suspended": 0.5,
    "priority": 0.6,
    "persona": 0.4,
    "read": 0.0,
    "persona_multi": 0.4,
}
_SCORED = ("override", "extraction", "role", "approval", "exfil", "authority", "suspended",
           "priority", "persona", "read")  # fmt: skip


@functools.cache
def _compiled() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The family patterns, compiled for the first text in these scripts: most texts have
    none, and compiling them takes about 10 ms."""
    return tuple(
        (family, re.compile("|".join(table[family] for table in (_RU, _ZH, _JA, _KO, _AR))))
        for family in _SCORED
    )


def native_view(text: str) -> str | None:
    """The view this module reads, or ``None`` when ``text`` has no character of its scripts."""
    if text.isascii() or not _SCRIPTS.search(text):
        return None
    view = unspaced(unicodedata.normalize("NFKC", strip_format_chars(text)).lower())
    if "." in view or "·" in view or "*" in view:
        view = _DOTTED.sub(_undotted, view)
    return " ".join(_ARABIC_MARKS.sub("", view).split())


# "и.г.н.о.р.и.р.у.й": letters of these scripts with a dot (or star) between each two
_DOTTED = deferred(r"(?<![\w.])(?:[^\W\d_a-z][.·*]){3,}[^\W\d_a-z](?![\w])")


def _undotted(match: re.Match[str]) -> str:
    return re.sub(r"[.·*]", "", match.group(0))


def native_hits(text: str) -> dict[str, str]:
    """Family name -> the matched cue, for every family whose cue occurs in ``text``."""
    view = native_view(text)
    if view is None:
        return {}
    hits: dict[str, str] = {}
    for family, pattern in _compiled():
        matches = {m.group(0) for m in pattern.finditer(view)}
        if matches:
            hits[family] = min(matches)[:60]
            if family == "persona" and len(matches) > 1:
                hits["persona_multi"] = max(matches)[:60]
    return hits


READ_FAMILY = "read"  # weight 0: only promotes a sensitive path to an exfiltration request
