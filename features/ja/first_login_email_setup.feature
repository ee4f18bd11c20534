# language: ja
# 出典: initial-setup.en.txt（初回設定、特徴、注意）と email-change.ja.txt Step2 ①–⑩
# （まだ第二要素のないアカウントでも同じメール設定の手順）。
# Step1（差出人からのメール受信許可）は対象外: メールソフト側の設定のため。差出人は ⑥ で確認する。
# initial-setup「メールアドレスを持っていない場合」: アプリだけの設定は helpdesk_reset.feature に
# あり、その結果（初期化に情報環境支援センターが必要になること）もそこで確かめる。
@manual_initial_setup
機能: 初回ログインとメールの初回設定
  多要素認証を設定したことのない利用者は、ECS-ID/SPS-ID とパスワードだけでログインし、
  8 桁のワンタイムパスワードを受け取るプライベートなアドレスを登録する。

  @SETUP_WITHOUT_FACTOR @FIRST_FACTOR_PASSWORD
  シナリオ: 初回ログインはワンタイムパスワードなしで初回設定に進む
    前提 ECS-ID/SPS-ID とパスワードを持ち、第二要素をまだ設定していない利用者がいる
    もし 多要素認証システムの設定ページにアクセスし、ECS-ID/SPS-ID とパスワードを入力して『ログイン』をクリックする
    ならば ワンタイムパスワードなしで初回設定に進む

  @manual_email_change @EMAIL_REGISTRATION_CONFIRM @MESSAGE_EMAIL_SENT @MAIL_SENDER @MAIL_SUBJECT_OTP @MAIL_BODY_CODE @EMAIL_OTP_DIGITS @SECOND_FACTOR_REQUIRED @EMAIL_OTP_TO_REGISTERED_ADDRESS @LOGOUT
  シナリオ: メールによる初回設定
    前提 ECS-ID/SPS-ID とパスワードを持ち、第二要素をまだ設定していない利用者がいる
    # ①
    もし 多要素認証システムの設定ページにアクセスし、ECS-ID/SPS-ID とパスワードを入力して『ログイン』をクリックする
    # ② ③
    かつ 右上の『☰』をクリックし、『ワンタイムパスワードの設定』をクリックする
    # ④
    かつ メールアドレスを入力し『ワンタイムパスワードを送信』をクリックする
    # ⑤
    ならば 『〇〇〇へメールを送信しました。』というメッセージが表示される
    # ⑥
    かつ 件名と差出人が一致するワンタイムパスワードのお知らせメールを開き、本文のワンタイムパスワードをコピーする
    # ⑦
    もし コピーしたワンタイムパスワードをペーストして『確認』をクリックする
    # ⑧
    ならば メール認証用アドレスが登録される
    # ⑧ ⑨
    もし 右上の『☰』をクリックし、『ログアウト』をクリックする
    ならば ログアウトされ、設定を開くには再度ログインが必要になる
    # ⑩ 以上で設定は完了。以後のログインではメールのワンタイムパスワードを求められる。
    かつ 次回のログインでは登録したアドレスに送られたワンタイムパスワードを求められる

  @EMAIL_REGISTRATION_CONFIRM
  シナリオ: ワンタイムパスワードを確認するまでアドレスは登録されない
    前提 ECS-ID/SPS-ID とパスワードを持ち、第二要素をまだ設定していない利用者がいる
    かつ 利用者はログインして『ワンタイムパスワードの設定』を開いている
    もし メールアドレスを入力し『ワンタイムパスワードを送信』をクリックする
    ならば 次回のログインはそのまま初回設定に進む

  @EMAIL_BLOCKED_DOMAIN @EMAIL_BLOCKED_SUBDOMAIN @EMAIL_ADDRESS_NORMALIZATION
  シナリオアウトライン: 大学のアドレスは、どう書いても登録できない
    # 注意: 「× @st.kyoto-u.ac.jp × @kyoto-u.ac.jp × @ms.c.kyoto-u.ac.jp」は登録できません。
    # 判定は spec/vectors/addresses.toml による。\uXXXX は見えない文字を表す。
    前提 ECS-ID/SPS-ID とパスワードを持ち、第二要素をまだ設定していない利用者がいる
    かつ 利用者はログインして『ワンタイムパスワードの設定』を開いている
    もし 事例「<case>」のアドレス「<address>」を入力し『ワンタイムパスワードを送信』をクリックする
    ならば ポータルの判定がアドレスの試験ベクトルの判定と一致する
    かつ ワンタイムパスワードは受け付けられたアドレスにだけ、正規化された形で送られる

    例: マニュアルの 3 つのドメイン
      | case            | address                 |
      | blocked-kyoto-u | taro@kyoto-u.ac.jp      |
      | blocked-st      | taro@st.kyoto-u.ac.jp   |
      | blocked-ms-c    | taro@ms.c.kyoto-u.ac.jp |

    例: 同じドメインの別の書き方
      | case                          | address                        |
      | uppercase-domain              | taro@KYOTO-U.AC.JP             |
      | trailing-dot-blocked          | taro@kyoto-u.ac.jp.            |
      | fullwidth-domain              | taro@ｋｙｏｔｏ－ｕ.ac.jp             |
      | fullwidth-at                  | taro＠kyoto-u.ac.jp             |
      | kelvin-sign                   | taro@\u212ayoto-u.ac.jp        |
      | ideographic-full-stop-blocked | taro@kyoto-u。ac。jp             |
      | surrounding-tabs-blocked      | \u0009taro@kyoto-u.ac.jp\u0009 |
      | ideographic-spaces-around     | \u3000taro@kyoto-u.ac.jp\u3000 |
      | subaddress-blocked            | taro+ninsho@kyoto-u.ac.jp      |

    例: 登録できないドメインのサブドメイン
      | case                         | address                  |
      | subdomain-mail               | taro@mail.kyoto-u.ac.jp  |
      | subdomain-of-st              | taro@x.st.kyoto-u.ac.jp  |
      | subdomain-upper-trailing-dot | taro@MAIL.Kyoto-U.ac.jp. |

  @EMAIL_LOOKALIKE_ACCEPTED @EMAIL_ADDRESS_NORMALIZATION
  シナリオアウトライン: プライベートなアドレスは、大学のものに似ていても受け付けられる
    前提 ECS-ID/SPS-ID とパスワードを持ち、第二要素をまだ設定していない利用者がいる
    かつ 利用者はログインして『ワンタイムパスワードの設定』を開いている
    もし 事例「<case>」のアドレス「<address>」を入力し『ワンタイムパスワードを送信』をクリックする
    ならば ポータルの判定がアドレスの試験ベクトルの判定と一致する
    かつ ワンタイムパスワードは受け付けられたアドレスにだけ、正規化された形で送られる

    例: プライベートなアドレス
      | case                       | address                                |
      | private-gmail              | taro.yamada@gmail.com                  |
      | private-docomo             | taro-1234@docomo.ne.jp                 |
      | mixed-case-local-preserved | Taro.Yamada@Gmail.COM                  |
      | surrounding-spaces         | \u0020\u0020taro@gmail.com\u0020\u0020 |
      | fullwidth-local-part       | ｔａｒｏ@gmail.com                         |
      | idn-japanese               | taro@例え.jp                             |
      | subaddress-private         | taro+ninsho@gmail.com                  |

    例: 登録できないドメインに似た別のドメイン
      | case                         | address                        |
      | lookalike-prefix             | taro@notkyoto-u.ac.jp          |
      | lookalike-suffix-example-com | taro@kyoto-u.ac.jp.example.com |
      | lookalike-jp-mail-com        | taro@kyoto-u.ac.jp-mail.com    |
      | lookalike-st-hyphen          | taro@st-kyoto-u.ac.jp          |
      | parent-domain                | taro@ac.jp                     |
      | lookalike-cyrillic-o         | taro@kyot\u043e-u.ac.jp        |

  @EMAIL_ADDRESS_SYNTAX @MAIL_HEADER_INJECTION
  シナリオアウトライン: 形式の誤ったアドレスは拒否され、何も送信されない
    前提 ECS-ID/SPS-ID とパスワードを持ち、第二要素をまだ設定していない利用者がいる
    かつ 利用者はログインして『ワンタイムパスワードの設定』を開いている
    もし 事例「<case>」のアドレス「<address>」を入力し『ワンタイムパスワードを送信』をクリックする
    ならば ポータルの判定がアドレスの試験ベクトルの判定と一致する
    かつ ワンタイムパスワードは受け付けられたアドレスにだけ、正規化された形で送られる

    例: 見えない文字と複数の「@」
      | case                     | address                        |
      | zwsp-inside              | taro@kyoto\u200b-u.ac.jp       |
      | bidi-override            | taro@\u202epj.ca.u-otoyk       |
      | soft-hyphen              | taro@kyo\u00adto-u.ac.jp       |
      | unit-separator-end       | taro@gmail.com\u001f           |
      | several-at-blocked-first | taro@kyoto-u.ac.jp@gmail.com   |
      | quoted-hides-blocked     | "taro@kyoto-u.ac.jp"@gmail.com |
      | two-trailing-dots        | taro@kyoto-u.ac.jp..           |
      | space-inside-local       | taro yamada@gmail.com          |

    例: ヘッダーインジェクション
      | case                   | address                           |
      | crlf-header-injection  | a@gmail.com\u000d\u000aBcc: x@y.z |
      | lf-injection-single-at | taro@gmail.com\u000aX-Injected: 1 |
