"""Whether a phone- or card-shaped number is personal data, from the words just around it.

A mainland mobile number is 11 digits starting 13-19, and so are many amounts, order numbers
and numbers in maths questions; a Luhn-valid 16-19 digit run with a card-network prefix may be
an order number. `pii.scrub_contacts` finds the shapes; this module decides from the text
before the number (`before`, at most `WINDOW` characters, on the same line) and after it
(`after`, same), both width-folded. In this order, the first rule that speaks decides:

1. a country code written with the number (`+86`, `(+86)`, `0086`): a phone;
2. a phone cue just before it (`PHONE_CUE`: 电话, 手机, 联系, 拨打, tel, ...): a phone;
3. an amount (`AMOUNT_AFTER`: a unit right after it, 元/块/万/亿/美元, with an optional
   decimal part; `AMOUNT_BEFORE`: ¥/￥/$ or a money word right before it, 价/金额/预算/总价/费用/
   收入/...) or a decimal (a `.digit` glued to either side): not a phone;
4. written as a phone (grouped 3-4-4 or 3-8 by space, dash or dot, or with `86` glued on): a phone;
5. an order, tracking or serial number (`ORDER_CUE` right before it: 订单号, 运单号, 快递单号,
   流水号, 编号, ...) or arithmetic and digit puzzles (`MATH_BEFORE`: 求, 计算, 判断, 数字, 整数,
   =, ×, ...; `MATH_AFTER`: 除以, mod, 的余数, 的各位, 是几位数, 能被, 的二进制, ...): not a phone;
6. otherwise: a phone.

A card-shaped number is not a card after an order cue (`is_order_number`); resident ID numbers
carry a date and a check character and are judged by shape alone.
The context is cut at line ends, so a number judged alone in one field is judged the same
when the fields are joined by newlines (as `stages.validation.derived` does).
"""

from __future__ import annotations

import re

WINDOW = 12

PHONE_CUE = re.compile(
    r"(?i)(?:电话|電話|手机|手機|联系|聯繫|聯系|致电|致電|拨打|撥打|热线|熱線|(?<![单單票证證卡件])号码|(?<![单單票证證卡件])號碼"
    r"|微信|tel|phone|mobile|call)[^0-9]{0,6}$")
_MONEY_WORDS = ("价|價|金额|金額|总额|總額|余额|餘額|预算|預算|费用|費用|成本|收入|营收|營收|利润|利潤|工资|工資|薪资|薪資"
                "|月薪|年薪|存款|贷款|貸款|欠款|市值|估值|融资|融資|投资|投資|罚款|罰款|gdp|GDP")
AMOUNT_BEFORE = re.compile(
    rf"(?:[¥￥$＄]|(?:{_MONEY_WORDS})(?:约为|约|約|为|為|是|共计|共|达到|达|達|高达|仅|僅|只要)?[:：]?"
    r"|(?i:rmb|cny|usd|人民币|人民幣|美元))[ ]?(?:[¥￥$＄][ ]?)?$")
AMOUNT_AFTER = re.compile(
    r"^(?:\.[0-9]+)?[ ]?(?:元|块|塊|万|萬|亿|億|千元|百万|百萬|千万|千萬|角|美元|欧元|歐元|日元|英镑|英鎊|港元|港币|港幣"
    r"|人民币|人民幣|(?i:rmb|cny|usd|yuan|dollars?)(?![A-Za-z]))")
DECIMAL_BEFORE, DECIMAL_AFTER = re.compile(r"[0-9]\.$"), re.compile(r"^\.[0-9]")
ORDER_CUE = re.compile(
    r"(?i)(?:订单|訂單|单号|單號|运单|運單|快递单|快遞單|物流单|物流單|流水|交易号|交易號|工单|工單|票号|票號|发票|發票"
    r"|编号|編號|序列号|序列號|序号|序號|批次|货号|貨號|条码|條碼|合同|案号|案號|order|tracking|serial|no\.)"
    r"(?:号码|號碼|号|號|编号|編號|id|no\.?)?[ ]?[:：#＃]?[ ]?(?:为|為|是)?[ ]?$")
MATH_BEFORE = re.compile(
    r"(?:求|计算|計算|已知|若|设|設|判断|判斷|比较|比較|验证|驗證|分解|数字|數字|整数|整數|自然数|自然數|正整数|正整數|数|數"
    r"|[0-9a-zA-Z)][ ]?[+\-*/×÷^]|[=＝<>≤≥]|除以|乘以|加上|减去|減去|等于|等於|的平方|的立方)[ ]?(?:[a-zA-Z][ ]?[=＝][ ]?)?$")
MATH_AFTER = re.compile(
    r"^[ ]?(?:[+\-*/×÷^%][ ]?[0-9(]|[=＝<>≤≥]|(?i:mod)(?![A-Za-z])|除以|乘以|[乘加减減][ ]?[0-9]|加上|减去|減去"
    r"|的余数|的餘數|的各|各位|的每|每一位"
    r"|的个位|的個位|的十位|的末|末尾|的首位|的数|的數|的二进制|的二進制|的十六进制|的八进制|的平方|的立方|的阶乘|的质因|的因数"
    r"|的约数|的倍数|的差|的积|的商|的大小|是几位|是幾位|有几位|有多少|中有几|中有幾|里有几|是质数|是素数|是合数|是奇数|是偶数"
    r"|是不是质数|是不是素数|是否为质数|能否被|能被|能不能被|可以被|被[ ]?[0-9]|等于|等於|是回文|倒过来|倒序|逆序|反转)")


def context(folded: str, start: int, end: int) -> tuple[str, str]:
    """The text before and after a match, at most `WINDOW` characters each, cut at line ends."""
    before = folded[max(0, start - WINDOW):start].rsplit("\n", 1)[-1]
    after = folded[end:end + WINDOW].split("\n", 1)[0]
    return before, after


def is_amount(before: str, after: str) -> bool:
    return bool(AMOUNT_AFTER.match(after) or AMOUNT_BEFORE.search(before)
                or DECIMAL_BEFORE.search(before) or DECIMAL_AFTER.match(after))


def is_order_number(before: str) -> bool:
    return bool(ORDER_CUE.search(before))


def is_phone(before: str, after: str, country_code: bool, written_as_phone: bool) -> bool:
    """The rules of the module docstring, in order, for one mobile-shaped number."""
    if country_code or PHONE_CUE.search(before):
        return True
    if is_amount(before, after):
        return False
    if written_as_phone:
        return True
    return not (is_order_number(before) or MATH_BEFORE.search(before) or MATH_AFTER.match(after))
