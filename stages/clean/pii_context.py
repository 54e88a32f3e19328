"""Whether a phone- or card-shaped number is personal data, from the words just around it.

A mainland mobile number is 11 digits starting 13-19, and so are many amounts, order numbers
and numbers in maths questions; a Luhn-valid 16-19 digit run with a card-network prefix may be
an order number. `pii.scrub_contacts` finds the shapes; this module decides from the text
before the number (`before`, at most `WINDOW` characters, on the same line) and after it
(`after`, same), both width-folded. In this order, the first rule that speaks decides:

1. a country code written with the number (`+86`, `(+86)`, `0086`): a phone;
2. a money unit right after it (`MONEY_AFTER`: 元/块/万/亿/美元/..., after an optional decimal
   part): an amount, not a phone;
3. a phone cue just before it (`PHONE_CUE`: 电话, 手机, 联系, 拨打, 号码, tel, ...): a phone;
4. a currency sign or money word right before it (`MONEY_BEFORE`: ¥/￥/$, 价格/预算/总价/费用/收入/
   any ...额), a count or an ordinal (`QUANTITY_BEFORE`: 第/人口/数量/共有/...; `QUANTITY_AFTER`: a
   measure word right after it, 个/次/条/吨/公里/...) or a decimal point glued to it: not a phone;
5. written as a phone (grouped 3-4-4 or 3-8 by space, dash or dot, or with `86` glued on): a phone;
6. an order, tracking or serial number (`ORDER_CUE` right before it: 订单号, 运单号, 快递单号,
   流水号, 快递, 编号, 学号, ...) or arithmetic and digit puzzles (`MATH_BEFORE`: 求, 计算, 判断, 数字,
   整数, =, ×, ...; `MATH_AFTER`: 除以, mod, 的余数, 的各位, 是几位数, 能被, ...; or a maths term
   anywhere in either window, `MATH_TERMS`: 余数, 各位数, 质因数, 整除, 回文数, 进制, 读作, 四舍五入,
   的差, 之和, ...): not a phone; `+ × ÷ * ^ %` make arithmetic with any operand, `/` and `-` only
   with a short one (`13812345678/13912345678` is two phones);
7. otherwise: a phone.

A card-shaped number is not a card after an order cue (`is_order_number`); resident ID numbers
carry a date and a check character and are judged by shape alone.
The context is cut at line ends, so a number judged alone in one field is judged the same
when the fields are joined by newlines (as `stages.validate.derived` does).
"""

from __future__ import annotations

import re

WINDOW = 20

PHONE_CUE = re.compile(
    r"(?i)(?:电话|電話|手机|手機|联系|聯繫|聯系|致电|致電|拨打|撥打|热线|熱線|(?<![单單票证證卡件])号码|(?<![单單票证證卡件])號碼"
    r"|微信|tel|phone|mobile|call)[^0-9]{0,6}$")
MONEY_AFTER = re.compile(
    r"^(?:\.[0-9]+)?[ ]?(?:元|块|塊|万|萬|亿|億|千元|百万|百萬|千万|千萬|角|美元|美金|欧元|歐元|日元|英镑|英鎊|港元|港币|港幣"
    r"|人民币|人民幣|(?i:rmb|cny|usd|yuan|dollars?)(?![A-Za-z]))")
_MONEY_WORDS = ("价格|價格|价钱|價錢|价|價|金额|金額|总额|總額|余额|餘額|预算|預算|费用|費用|成本|收入|营收|營收|利润|利潤"
                "|工资|工資|薪资|薪資|月薪|年薪|存款|贷款|貸款|欠款|市值|估值|融资|融資|投资|投資|罚款|罰款|资产|資產|负债|負債"
                "|产值|產值|额|額|gdp|GDP")
MONEY_BEFORE = re.compile(
    rf"(?:[¥￥$＄]|(?:{_MONEY_WORDS})(?:约为|约|約|为|為|是|共计|共|达到|达|達|高达|仅|僅|只要)?[:：]?"
    r"|(?i:rmb|cny|usd|人民币|人民幣|美元))[ ]?(?:[¥￥$＄][ ]?)?$")
QUANTITY_AFTER = re.compile(  # no measure word that is also a surname or starts a common word (张, 本人, 年底)
    r"^[ ]?(?:个(?!人)|個(?!人)|次|件|折|吨|噸|公里|千米|千克|公斤|克|斤|字节|字節|条|條|篇|辆|輛|秒|毫秒|倍|%|％"
    r"|(?i:km|kg|mb|gb|bytes?|ms)(?![A-Za-z]))")
QUANTITY_BEFORE = re.compile(
    r"(?:第|人口|总数|總數|数量|數量|人数|人數|个数|個數|次数|次數|总量|總量|访问量|訪問量|销量|銷量|产量|產量|总计|總計|合计|合計"
    r"|共有|共计|共計)[ ]?[:：]?[ ]?(?:为|為|是|约|約|达|達|有)?[ ]?$")
DECIMAL_BEFORE, DECIMAL_AFTER = re.compile(r"[0-9]\.$"), re.compile(r"^\.[0-9]")
ORDER_CUE = re.compile(
    r"(?i)(?:订单|訂單|单号|單號|运单|運單|快递单|快遞單|物流单|物流單|流水|交易号|交易號|工单|工單|票号|票號|发票|發票"
    r"|编号|編號|序列号|序列號|序号|序號|批次|货号|貨號|条码|條碼|合同|案号|案號|学号|學號|工号|工號|会员号|會員號"
    r"|取件码|取件碼|兑换码|兌換碼|快递|快遞|物流|群号|群號|order|tracking|serial|no\.|(?<![A-Za-z])u?id)"
    r"(?:[ ]?(?:号码|號碼|号|號|编号|編號|id|no\.?|number))?[ ]?[:：#＃]?[ ]?(?:为|為|是)?[ ]?$")
_OPERAND = r"(?:[0-9]{1,6}(?![0-9])|[a-zA-Z(])"  # a short number, a letter or a bracket
MATH_BEFORE = re.compile(
    r"(?:求|计算|計算|已知|若|设|設|判断|判斷|证明|證明|比较|比較|比|验证|驗證|分解|数字|數字|整数|整數|自然数|自然數|正整数|正整數|数|數"
    r"|[0-9a-zA-Z)][ ]?[+*×÷^]|(?<![0-9])[0-9]{1,6}[ ]?[/\-]|[a-zA-Z)][ ]?[/\-]|[=＝<>≤≥]"
    r"|除以|乘以|加上|减去|減去|等于|等於|的平方|的立方|[A-Za-z_]\(|[\[{]|(?<![0-9])[0-9]{1,6}[ ]?,"
    r"|(?i:输入|輸入|输出|輸出|样例|樣例|input|output|sample)[ ]?[:：]?)[ ]?(?:[a-zA-Z][ ]?[=＝][ ]?)?$")
MATH_AFTER = re.compile(
    rf"^[ ]?(?:[+*×÷^%][ ]?[0-9(]|[/\-][ ]?{_OPERAND}|[=＝<>≤≥]|(?i:mod)(?![A-Za-z])|除以|乘以|[乘加减減][ ]?[0-9]"
    r"|加上|减去|減去|的各|各位|的每|每一位|的个位|的個位|的十位|的末|末尾|的首位|的数|的數|的平方|的立方|的阶乘|的因数"
    r"|的大小|是几位|是幾位|有几位|有多少|中有几|中有幾|里有几|能否被|能被|能不能被|可以被|被[ ]?[0-9]|等于|等於|是回文"
    r"|倒过来|倒序|逆序|反转|这个数|這個數)")
MATH_TERMS = re.compile(
    r"余数|餘數|各位数|各位數|数字之和|数字和|数位|數位|位数|位數|质因数|質因數|因数分解|因數分解|整除|进制|進制|回文数|回文數"
    r"|质数|質數|素数|合数|奇数|偶数|平方根|立方根|约数|約數|倍数|倍數|公约数|公倍数|之和|之差|之积|的差|的积|的商|取模"
    r"|读作|讀作|写作|寫作|改写|改寫|四舍五入|四捨五入|精确到|精確到|近似数|近似數|约等于|約等於|科学计数|科学记数|作单位"
    r"|最高位|大写|大寫|乘积|乘積|出现几次|出现了几次|因数|因數|平方数|平方數|完全平方|立方数|哪个大|哪个小|哪個大|哪個小|谁大|谁小|更大|更小|大小")


def context(folded: str, start: int, end: int) -> tuple[str, str]:
    """The text before and after a match, at most `WINDOW` characters each, cut at line ends."""
    before = folded[max(0, start - WINDOW):start].rsplit("\n", 1)[-1]
    after = folded[end:end + WINDOW].split("\n", 1)[0]
    return before, after


def is_order_number(before: str) -> bool:
    return bool(ORDER_CUE.search(before))


def is_arithmetic(before: str, after: str) -> bool:
    return bool(MATH_BEFORE.search(before) or MATH_AFTER.match(after)
                or MATH_TERMS.search(before) or MATH_TERMS.search(after))


def is_phone(before: str, after: str, country_code: bool, written_as_phone: bool) -> bool:
    """The rules of the module docstring, in order, for one mobile-shaped number."""
    if country_code:
        return True
    if MONEY_AFTER.match(after):
        return False
    if PHONE_CUE.search(before):
        return True
    if (MONEY_BEFORE.search(before) or QUANTITY_BEFORE.search(before) or QUANTITY_AFTER.match(after)
            or DECIMAL_BEFORE.search(before) or DECIMAL_AFTER.match(after)):
        return False
    if written_as_phone:
        return True
    return not (is_order_number(before) or is_arithmetic(before, after))
