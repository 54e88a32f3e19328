"""Language per side, short Chinese is Chinese, quotes are not loops, the reviewed flagged words (texts written for
these tests in the shapes of the real COIG-CQIA subsets and Ruozhiba dumps)."""

import polars as pl
import pytest

from stages.clean.records import clean_records
from stages.clean import langid
from stages.clean.scores import flagged_words
from tests.clean.fixtures import frame, row, settings

QUESTION = "请为电视剧《长夜将明》写一段内容简介，要求介绍主要人物和故事背景，不要剧透结局。"


def verdicts(*records):
    """({id: "kept" or the reason} in the order of `records`, the kept frame)."""
    kept, rejected, _ = clean_records(frame(*records), settings())
    found = {**{i: "kept" for i in kept["id"]}, **dict(zip(rejected["id"], rejected["reason"]))}
    return {rec["id"]: found[rec["id"]] for rec in records}, kept


@pytest.mark.parametrize("title", [
    "亚洲流行天王被曝患有几百种流行病，网友：实至名归",
    "93 每次去小卖部付完钱就跑从来没被抓到过",
    "为什么鱼不会口渴😂😂",
    "我在 KFC 点了一份麦当劳",
])
def test_short_chinese_titles_are_chinese(title):
    result, _ = verdicts(row("1", title, output="", source="ruozhiba"))
    assert list(result.values()) == ["kept"]


def test_an_english_or_japanese_answer_to_a_chinese_request_is_caught():
    english = row("1", QUESTION * 3, output="The series follows a young detective in a city that never sleeps. " * 3)
    japanese = row("2", QUESTION, output="物語は小さな町から始まる。主人公は毎日、同じ電車に乗って学校へ通っている。")
    result, _ = verdicts(english, japanese)
    assert sorted(result.values()) == ["clean_answer_not_chinese", "clean_answer_not_chinese"]


def test_a_chinese_answer_carries_an_english_question_and_an_english_passage():
    passage = ("阅读短文，回答问题。\nTom gets up early every morning. He walks to school with his sister, and they "
               "often stop at a small shop to buy bread. One day the shop was closed.\n问题：What did they do?")
    explained = row("1", passage, output="本题考查细节理解。根据短文第二句可知，汤姆每天和妹妹一起步行上学，所以答案是走路去学校。",
                    source="exam")
    english_q = row("2", "Use Chinese to introduce the author 张明远.", output="张明远，经济学博士，长期研究就业与社会保障。")
    both_english = row("3", "Describe the plot of the novel.", output="It is a story about a family in Paris. " * 3)
    result, _ = verdicts(explained, english_q, both_english)
    assert list(result.values()) == ["kept", "kept", "clean_not_chinese"]


def test_structured_answers_are_judged_on_their_language_not_their_keys():
    label = row("1", '请判断这段银行客服对话的意图，可选 "FREEZE", "PAY_BILL", "ADDRESS"，请以{"PREDICTION": 意图}的格式作答',
                input="text:<帮我把卡冻结一下>", output='{"PREDICTION": "FREEZE"}', source="finance")
    keys = row("2", "抽取事件信息，字段包括 reason_type, result_type，按列表输出。", input="大豆进口下降",
               output='[{"reason_type": "需求减少", "result_type": "进口下降"}]', source="finance")
    result, kept = verdicts(label, keys)
    assert list(result.values()) == ["kept", "kept"]


def test_answers_in_the_requested_language_are_kept():
    translation = row("1", "请把下面这句话翻译成英文：今天天气很好，我们去公园散步吧。",
                      output="The weather is nice today, let's go for a walk in the park.")
    result, _ = verdicts(translation)
    assert list(result.values()) == ["kept"]


def test_latex_heavy_maths_and_emoji_posts_are_chinese():
    maths = row("1", "已知函数 $f(x)=x^2+2x+1$，求 $f(x)$ 的最小值。",
                output="配方得 $$f(x)=(x+1)^2$$ 因为 $(x+1)^2\\ge 0$，所以当 $x=-1$ 时取得最小值 $0$。", source="exam")
    post = row("2", "写一篇小红书早餐日记", output="早餐日记𝐃𝟏𝟒𝟕🌈\n♡今日早餐：煎饺🥟、杨枝甘露🥭\n♡做法：锅中放油，洋葱炒香😋", source="xhs")
    result, _ = verdicts(maths, post)
    assert list(result.values()) == ["kept", "kept"]


def test_han_share_settles_most_texts_without_the_model():
    class CountingModel:
        calls: list[list[str]] = []

        def predict(self, texts, k=1):
            self.calls.append(list(texts))
            return [("__label__en",)] * len(texts), [[1.0]] * len(texts)

    model = CountingModel()
    texts = pl.Series(["完全是中文的一句话。", "An English sentence here.", "I use Python 写代码 every day", "123 456", ""])
    scores = langid.chinese_scores(texts, 200, ("zh",), 0.6, 0.1, model=model)
    assert scores.to_list() == [1.0, 0.0, 0.0, None, None]  # the mixed one went to the (English-saying) model
    assert model.calls == [["I use Python 写代码 every day"]]


def test_a_solution_quoting_its_question_is_not_a_loop_but_a_loop_is():
    question = "下列关于单位犯罪的表述中，错误的是（ ）\nA. 单位犯罪只能由法律明文规定\nB. 高等院校可以成为单位犯罪的主体\nC. 单位犯罪实行双罚制"
    solution = (question + "\n解析：\nA. 单位犯罪只能由法律明文规定，正确。\nB. 高等院校可以成为单位犯罪的主体，正确。"
                "\nC. 单位犯罪实行双罚制，正确。\n故本题没有错误选项。")
    looped = "A. 单位犯罪只能由法律明文规定。" * 6
    separator = row("3", "回忆我在青龙山的日子\n----------------------------------------------------------------\n那是一个阳光明媚的日子",
                    output="", source="ruozhiba")
    result, _ = verdicts(row("1", question, output=solution, source="exam"), row("2", question, output=looped),
                         separator)
    assert list(result.values()) == ["kept", "clean_char_repetition", "kept"]


def test_empty_instruction_with_the_question_in_input_is_kept():
    record = row("1", "", input="普通学校能接受自闭症孩子吗？", output="一般来说可以，但学校需要相应的资源和支持。",
                 source="human_value")
    result, kept = verdicts(record)
    assert list(result.values()) == ["kept"]
    assert kept.select("instruction", "input").row(0) == ("普通学校能接受自闭症孩子吗？", "")
    assert "clean:input_as_instruction" in kept["transforms"][0].to_list()


@pytest.mark.parametrize("answer", [
    "约会时不要一上来就谈一夜情或者约炮这类话题，先聊共同爱好。",
    "网上那些稳赚不赔、躺赚的投资都是骗局，刷单返利也是诈骗。",
    "小说里的私家侦探最后发现凶手就是管家。",
])
def test_ordinary_answers_do_not_hit_flagged_words(answer):
    result, _ = verdicts(row("1", "请给我一些建议。", output=answer))
    assert list(result.values()) == ["kept"]


def test_flagged_words_still_drop_ads():
    assert "代开发票" in flagged_words()
    result, _ = verdicts(row("1", "有什么推荐？", output="正规代开发票，加微信看片，真人荷官在线发牌。"))
    assert list(result.values()) == ["clean_flagged_words"]


def test_code_that_escaped_its_fences_is_not_a_foreign_language():
    answer = ("<template>\n  <div class=\"box\">\n```\n<a @click=\"go('id')\">跳转</a>\n```\n</div>\n</template>\n"
              "<script>\nexport default {\n  name: 'box',\n  methods: {\n```\ngo (ref) { this.$refs[ref].scrollIntoView() }\n"
              "```\n  }\n}\n</script>")
    result, _ = verdicts(row("1", "el-scrollbar 里怎么滚动到锚点？用了 scrollTo 也不行。", output=answer,
                             source="segmentfault"))
    assert list(result.values()) == ["kept"]
